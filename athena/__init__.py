"""SQL for the report lake that runs unchanged on Athena (engine v3, Trino dialect) and on DuckDB.

Typed views are rendered from the registry (``bwp.schemas``), so a new report type or column needs
no SQL edit; named queries are hand-written files in ``queries/`` that read only the views.

Dialect decisions (both engines):
- Raw tables ``<type>_raw`` keep every column as text, named in lower case as Glue stores them, plus
  the partition column ``dt`` ('YYYY-MM-DD' text). Athena's OpenCSVSerde only reads timestamps
  written as UNIX numbers, so parsing happens in the views, never in the table.
- Typed views ``<type>`` name columns in snake_case and cast by the registry's type:
  STRING: '' and 'N/A' (the reports' "not applicable") become NULL;
  TIMESTAMP: ISO-8601 (with or without fractional seconds, any offset) parsed by
  ``from_iso8601_timestamp`` and exposed as a UTC ``timestamp``;
  DECIMAL / INTEGER: ``try_cast`` to decimal(18,2) / integer.
- A value that does not parse becomes NULL instead of failing the query (``try``/``try_cast``): one
  bad cell must not make a whole report unqueryable; the raw table keeps the original text, so
  ``WHERE typed IS NULL AND raw <> ''`` finds them.
- The views keep ``dt`` (text) and add ``report_date`` (date). Filter on ``dt`` to let Athena
  prune partitions: partition projection cannot prune through the cast behind ``report_date``.
- DuckDB lacks only ``from_iso8601_timestamp``; the local loader (``local.lake_sql``) defines it as
  a macro. ``try``, ``try_cast``, ``trim``, ``NULLIF``, ``AT TIME ZONE`` and aggregate ``FILTER``
  exist in both engines.
"""

from athena.named import NamedQuery, UnknownNamedQuery, named_queries, named_query
from athena.views import raw_table_columns, view_sql, view_statements

__all__ = [
    "NamedQuery",
    "UnknownNamedQuery",
    "named_queries",
    "named_query",
    "raw_table_columns",
    "view_sql",
    "view_statements",
]

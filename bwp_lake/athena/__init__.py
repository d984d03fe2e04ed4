"""SQL for the report lake that runs unchanged on Athena (engine v3, Trino dialect) and on DuckDB.

Typed views are rendered from the registry (``bwp.lake.schemas``), so a new report type or column needs
no SQL edit; named queries are hand-written files in ``queries/`` that read only the views, but for
time travel: a view has no history, so a query that shows days as they were reads the curated table
``FOR TIMESTAMP AS OF (<instant>)`` (Athena's clause; ``local.lake_sql`` gives DuckDB the same).

Dialect decisions (both engines):
- Raw tables ``<type>_raw`` keep every column as text, named in lower case as Glue stores them, plus
  the partition column ``dt`` ('YYYY-MM-DD' text): the copy of record, kept for audit.
- Curated tables ``<type>_curated`` are the typed Parquet files the landing writes beside the raw
  object (``bwp.landing.curated``): snake_case names, UTC timestamps, decimal(18,2) amounts, parsed once
  at landing by the registry's rules, so a value that did not parse is already NULL there (the raw
  table keeps its text: ``WHERE typed IS NULL AND raw <> ''`` finds them).
- Typed views ``<type>`` select the curated columns; named queries read only the views. The views
  keep ``dt`` (text) and add ``report_date`` (date). Filter on ``dt`` to let Athena prune
  partitions: partition projection cannot prune through the cast behind ``report_date``.
- ``try_cast``, ``CAST``, ``NULLIF`` and aggregate ``FILTER`` exist in both engines.
"""

from bwp_lake.athena.named import NamedQuery, UnknownNamedQuery, named_queries, named_query
from bwp_lake.athena.views import curated_table_columns, raw_table_columns, view_sql, view_statements

__all__ = [
    "NamedQuery",
    "UnknownNamedQuery",
    "named_queries",
    "named_query",
    "curated_table_columns",
    "raw_table_columns",
    "view_sql",
    "view_statements",
]

"""DuckDB over a local lake directory laid out like the bucket, with Athena's views and queries.

The typed views and named queries are the very SQL text Athena runs (``athena``); this module only
supplies what Glue supplies in AWS: the raw tables over the gzip CSV files, the curated tables
(each Iceberg table's current snapshot, scanned by pyiceberg into Arrow: ``lake_tables``) and the
manifests table.

Athena's time travel on a curated table, ``<table> FOR TIMESTAMP AS OF (<instant>)``, reads here
too: DuckDB has no such clause, so the instant is evaluated by DuckDB, the table's snapshot current
at that instant is read (``lake_tables``, pyiceberg) and registered under a name of its own, and
that name replaces the clause. One query text serves both engines.

A file DuckDB cannot read whole (text that is not UTF-8, a record longer than its reader takes, a
truncated file) is left out of its table with a warning naming it, so one bad file never keeps
the lake from opening: every other file stays queryable.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
from bwp.lake.contract import REPORTS_PREFIX
from bwp.lake.manifest import duckdb_columns
from bwp.lake.partition import MANIFEST_FILES, table_files
from bwp.lake.schemas import REGISTRY, ReportSchema

from bwp_lake import athena
from bwp_lake.athena.catalog import REPORT_TYPE_COLUMN
from bwp_lake.athena.views import PARTITION_COLUMN, STORE_COLUMN, raw_table_columns
from bwp_lake.local.lake_tables import LakeDirTables

Result = tuple[list[str], list[tuple[Any, ...]]]
log = logging.getLogger(__name__)

# Mirrors the Glue tables: a header line, RFC 4180 quoting, every value text, `store` and `dt` from the path.
# union_by_name matches columns by header name, so a drifted file (renamed, extra or reordered
# columns) stays queryable: a renamed column reads as NULL in its registry column.
_CSV_OPTIONS = (
    "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', "
    "hive_partitioning = true, hive_types_autocast = false, union_by_name = true"
)
_JSON_OPTIONS = (
    "format = 'newline_delimited', hive_partitioning = true, hive_types_autocast = false, union_by_name = true"
)

# The manifests table's columns as Glue has them: every manifest field, NULL where a manifest
# lacks it (older manifests, or none landed yet), the store and the report type from the path
# (where a partition key and a manifest field share a name, the path's value wins, as in Athena).
_PARTITION_COLUMNS = [(STORE_COLUMN, "VARCHAR"), (REPORT_TYPE_COLUMN, "VARCHAR")]
_MANIFEST_COLUMNS = _PARTITION_COLUMNS + [column for column in duckdb_columns() if column[0] != STORE_COLUMN]
_PARTITIONS_SQL = """
SELECT store, report_type, CAST("day" AS VARCHAR) AS "day", "rows", bytesOut AS bytes_out,
       to_json(drift) AS drift, CAST(landedAt AS VARCHAR) AS landed_at
FROM manifests
ORDER BY store, report_type, "day"
"""


# `<table> FOR TIMESTAMP AS OF (<instant>)` or `... AS OF TIMESTAMP '<literal>'`, the table name
# optionally qualified by its database and quoted, as Athena takes them.
_TIME_TRAVEL = re.compile(
    r"""(?:"?\w+"?\.)?"?(\w+)"?\s+FOR\s+TIMESTAMP\s+AS\s+OF\s*(\(|TIMESTAMP\s*'[^']*')""", re.IGNORECASE
)


class LakeSql:
    """An in-memory DuckDB with ``<type>_raw``, ``<type>_curated``, the typed views and ``manifests``
    over ``lake_dir``.

    The files are listed, and the curated tables read, when it opens: open a new one to see
    partitions landed since.
    """

    def __init__(self, lake_dir: Path | str) -> None:
        self.lake_dir = Path(lake_dir)
        self.unreadable: list[str] = []  # one line per file left out: its path and DuckDB's reason
        self.tables = LakeDirTables(self.lake_dir)
        self._db = duckdb.connect(":memory:")
        try:
            self._install()
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> LakeSql:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def query(self, sql: str, parameters: list[Any] | None = None) -> Result:
        cursor = self._db.execute(traveled_in_time(self._db, self.tables, sql), parameters)
        if cursor.description is None:
            return [], []
        return [column[0] for column in cursor.description], cursor.fetchall()

    def run_named(self, name: str) -> Result:
        return self.query(athena.named_query(name).sql)

    def partitions(self) -> Result:
        """One row per landed (store, report type, day), from the manifests."""
        return self.query(_PARTITIONS_SQL)

    def _install(self) -> None:
        # Athena sessions run in UTC; from_iso8601_timestamp reads a value without offset as UTC too.
        self._db.execute("SET TimeZone = 'UTC'")
        for schema in REGISTRY.values():
            self._db.execute(self._raw_view_sql(schema))
            # Every column the Iceberg table has now, those its schema evolution added included.
            self._db.register(schema.curated_table_name, self.tables.rows(schema.report_type))
        for _, statement in athena.view_statements():
            self._db.execute(statement)
        self._db.execute(self._manifests_view_sql())

    def _raw_view_sql(self, schema: ReportSchema) -> str:
        files = self._readable(
            sorted(self.lake_dir.glob(table_files(REPORTS_PREFIX, schema.report_type, "*.csv.gz"))),
            lambda paths: f"FROM read_csv({_list_literal(paths)}, {_CSV_OPTIONS})",
        )
        columns = [name for name, _ in raw_table_columns(schema.report_type)] + [STORE_COLUMN, PARTITION_COLUMN]
        if files:
            source = f"FROM read_csv({_list_literal(files)}, {_CSV_OPTIONS})"
            present = self._column_names(source)
        else:
            # No partition landed yet: the same columns and no rows, as an empty Glue table.
            source, present = "WHERE false", set()
        select = ", ".join(f'"{name}"' if name in present else f'CAST(NULL AS VARCHAR) AS "{name}"' for name in columns)
        return f"CREATE OR REPLACE VIEW {schema.raw_table_name} AS SELECT {select} {source}"

    def _manifests_view_sql(self) -> str:
        files = self._readable(
            sorted(self.lake_dir.glob(MANIFEST_FILES)),
            lambda paths: f"FROM read_json({_list_literal(paths)}, {_JSON_OPTIONS})",
        )
        source, select = self._columns_or_nulls(
            f"FROM read_json({_list_literal(files)}, {_JSON_OPTIONS})" if files else None, _MANIFEST_COLUMNS
        )
        return f"CREATE OR REPLACE VIEW manifests AS SELECT {', '.join(select)} {source}"

    def _columns_or_nulls(self, source: str | None, columns) -> tuple[str, list[str]]:
        """The FROM clause (none: no rows), and the select list in which a column the files lack
        is a typed NULL, so that a view keeps its columns before any file has them."""
        if source is None:
            source, present = "WHERE false", set()
        else:
            present = self._column_names(source)
        return source, [
            f'"{name}"' if name.lower() in present else f'CAST(NULL AS {sql_type}) AS "{name}"'
            for name, sql_type in columns
        ]

    def _readable(self, files: list[Path], source_of: Callable[[list[Path]], str]) -> list[Path]:
        """The files DuckDB reads whole (every value of every column); each other one is left out,
        named in a warning. All at once first: a file at a time only when that fails."""
        if not files or self._read_error(source_of(files)) is None:
            return files
        readable = []
        for path in files:
            error = self._read_error(source_of([path]))
            if error is None:
                readable.append(path)
            else:
                self.unreadable.append(f"{path}: {error}")
                log.warning("left out of the lake's tables, DuckDB cannot read it: %s: %s", path, error)
        return readable

    def _read_error(self, source: str) -> str | None:
        """DuckDB's error on reading every value ``source`` holds, short (without the offending
        line, which can be megabytes); None if it reads."""
        try:
            self._db.execute(f"SELECT count(COLUMNS(*)) {source}").fetchall()
        except duckdb.Error as error:
            said = [line for line in str(error).splitlines()[:4] if line and not line.startswith("Original Line")]
            return " ".join(said)[:_MAX_REASON]
        return None

    def _column_names(self, source: str) -> set[str]:
        return {name.lower() for name, *_ in self._db.execute(f"DESCRIBE SELECT * {source}").fetchall()}


def traveled_in_time(db: duckdb.DuckDBPyConnection, tables: LakeDirTables, sql: str) -> str:
    """``sql`` with each curated table read ``FOR TIMESTAMP AS OF`` an instant replaced by the
    name of a relation of ``db`` holding the rows of the table's snapshot current at that instant
    (none if the table had no snapshot yet, where Athena refuses the query)."""
    curated = {schema.curated_table_name: schema.report_type for schema in REGISTRY.values()}
    while match := _TIME_TRAVEL.search(sql):
        table, instant_start = match.group(1).lower(), match.start(2)
        end = _closing_parenthesis(sql, instant_start) if match.group(2) == "(" else match.end()
        if table not in curated:
            raise duckdb.InvalidInputException(
                f"FOR TIMESTAMP AS OF reads a curated table ({', '.join(curated)}), not {table}"
            )
        (millis,) = db.execute(f"SELECT epoch_ms(CAST(({sql[instant_start:end]}) AS TIMESTAMPTZ))").fetchone() or (
            None,
        )
        if millis is None:
            raise duckdb.InvalidInputException(f"FOR TIMESTAMP AS OF on {table}: the instant is NULL")
        name = f"{table}_as_of_{millis}".replace("-", "m")
        db.register(name, tables.rows(curated[table], as_of=dt.datetime.fromtimestamp(millis / 1000, dt.UTC)))
        sql = sql[: match.start()] + name + sql[end:]
    return sql


def _closing_parenthesis(sql: str, opening: int) -> int:
    """The index after the parenthesis that closes the one at ``opening`` (text in quotes skipped)."""
    depth, position, quote = 0, opening, None
    while position < len(sql):
        character = sql[position]
        if quote:
            quote = None if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    raise duckdb.ParserException(f"FOR TIMESTAMP AS OF: no ')' closes the instant at {sql[opening : opening + 40]!r}")


def _list_literal(paths: list[Path]) -> str:
    quoted = ("'" + str(path).replace("'", "''") + "'" for path in paths)
    return "[" + ", ".join(quoted) + "]"


_MAX_CELL = 48
_MAX_REASON = 300


def format_table(columns: list[str], rows: list[tuple[Any, ...]], max_rows: int = 20) -> str:
    """Plain-text table, numbers right-aligned, NULL shown as NULL, long cells cut."""
    shown = rows[:max_rows]
    cells = [[cell_text(value) for value in row] for row in shown]
    numeric = [
        bool(shown) and all(row[i] is None or isinstance(row[i], int | float | Decimal) for row in shown)
        for i in range(len(columns))
    ]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    lines = [line(list(columns)), line(["-" * width for width in widths])]
    lines += [line(row) for row in cells]
    if not rows:
        lines.append("(no rows)")
    elif len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more of {len(rows)} rows")
    return "\n".join(lines)


def cell_text(value: Any) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    else:
        text = str(value)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 3] + "..."

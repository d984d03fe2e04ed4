"""Typed views rendered from the registry: one ``CREATE OR REPLACE VIEW`` per report type."""

from __future__ import annotations

import re

from bwp.lake.partition import PARTITION_KEYS
from bwp.lake.schemas import REGISTRY, Column, ColumnType, schema_for, snake_case

# The tables' partition keys: the store (folder store=<id>/) and the UTC day (folder dt=<day>/).
STORE_COLUMN, PARTITION_COLUMN = PARTITION_KEYS
REPORT_DATE_COLUMN = "report_date"
RAW_COLUMN_TYPE = "string"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class UnsupportedColumnName(ValueError):
    """A registry column whose name cannot become the same plain identifier in Glue, Athena and DuckDB."""


def _exposed(column: Column, name: str) -> str:
    # DuckDB reads the Parquet files' UTC timestamps as TIMESTAMP WITH TIME ZONE; the cast gives
    # the plain UTC timestamp Athena reads from the Glue column (a no-op there; sessions run in UTC).
    return f"CAST({_quote(name)} AS timestamp)" if column.type is ColumnType.TIMESTAMP else _quote(name)


def raw_column_name(column: Column) -> str:
    """The column's name in the raw table: Glue keeps names in lower case."""
    return _identifier(column.name.lower(), column.name)


def raw_table_columns(report_type: str) -> list[tuple[str, str]]:
    """(column name, Glue type) of the raw table, in the report's column order; the partition keys
    (``store``, ``dt``) are not listed."""
    schema = schema_for(report_type)
    names = [raw_column_name(column) for column in schema.columns]
    _require_unique(report_type, [*names, *PARTITION_KEYS], "raw")
    return [(name, RAW_COLUMN_TYPE) for name in names]


def curated_table_columns(report_type: str) -> list[tuple[str, str]]:
    """(column name, Glue type) of the curated table: the registry's columns in snake_case, typed;
    the partition keys (``store``, ``dt``) are not listed. ``bwp.landing.curated`` writes the Parquet files so."""
    schema = schema_for(report_type)
    columns = [(_identifier(snake_case(column.name), column.name), column.type.glue_type) for column in schema.columns]
    _require_unique(report_type, [name for name, _ in columns] + [*PARTITION_KEYS, REPORT_DATE_COLUMN], "view")
    return columns


def view_sql(report_type: str, database: str | None = None) -> str:
    """``CREATE OR REPLACE VIEW <type> AS SELECT ... FROM <type>_curated``, names qualified with
    ``database`` when given."""
    schema = schema_for(report_type)
    select = [
        f"    {_exposed(column, name)} AS {_quote(name)}"
        for column, (name, _) in zip(schema.columns, curated_table_columns(report_type), strict=True)
    ]
    select.append(f"    {_quote(STORE_COLUMN)}")
    select.append(f"    {_quote(PARTITION_COLUMN)}")
    select.append(f"    try_cast({_quote(PARTITION_COLUMN)} AS date) AS {_quote(REPORT_DATE_COLUMN)}")
    return "\n".join(
        [
            f"CREATE OR REPLACE VIEW {_qualified(database, schema.view_name)} AS",
            "SELECT",
            ",\n".join(select),
            f"FROM {_qualified(database, schema.curated_table_name)}",
        ]
    )


def view_statements(database: str | None = None) -> list[tuple[str, str]]:
    """(view name, SQL) for every report type in the registry."""
    return [(schema.view_name, view_sql(schema.report_type, database)) for schema in REGISTRY.values()]


def _identifier(name: str, source: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise UnsupportedColumnName(
            f"column {source!r} gives {name!r}: use letters, digits and underscores, not starting with a digit"
        )
    return name


def _require_unique(report_type: str, names: list[str], where: str) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UnsupportedColumnName(f"{report_type}: {where} column names collide: {', '.join(duplicates)}")


def _quote(name: str) -> str:
    # Quoted so that a future column called e.g. "date" or "user" is not read as a keyword.
    return f'"{name}"'


def _qualified(database: str | None, name: str) -> str:
    # Athena advises plain, unquoted names for databases and views: they are checked, not quoted.
    if database is None:
        return name
    if not _IDENTIFIER.fullmatch(database):
        raise ValueError(f"database name {database!r} must be lower case letters, digits and underscores")
    return f"{database}.{name}"

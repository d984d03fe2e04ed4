"""The lake's tables as a catalog describes them: name, description, columns with their comments, and
the partition column. The stack's Glue tables (``infra.storage``) and ``bwp-lake dbt-sources`` both
read this module, so Glue and dbt describe the same columns in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from bwp.lake.manifest import glue_column_comments, glue_columns
from bwp.lake.schemas import REPORT_TYPES, schema_for

from bwp_lake.athena.views import PARTITION_COLUMN, curated_table_columns, raw_table_columns

MANIFESTS_TABLE = "manifests"
MANIFESTS_PARTITION_COLUMN = "report_type"


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str  # in Glue's spelling
    comment: str


@dataclass(frozen=True)
class CatalogTable:
    name: str
    description: str
    columns: tuple[CatalogColumn, ...]
    partition: CatalogColumn  # from the folder <name>=<value>/ of each file
    provisional: bool = False  # its columns are the registry's provisional guess (see bwp.lake.schemas)


_DAY_PARTITION = CatalogColumn(PARTITION_COLUMN, "string", "UTC day of the report, YYYY-MM-DD (the folder dt=<day>/)")


def raw_table(report_type: str) -> CatalogTable:
    return _report_table(
        report_type,
        schema_for(report_type).raw_table_name,
        f"{report_type} as landed: every column text, gzip CSV with a header line",
        raw_table_columns(report_type),
    )


def curated_table(report_type: str) -> CatalogTable:
    return _report_table(
        report_type,
        schema_for(report_type).curated_table_name,
        f"{report_type} typed by the registry: one Parquet file per day, written at landing",
        curated_table_columns(report_type),
    )


def _report_table(report_type: str, name: str, description: str, columns: list[tuple[str, str]]) -> CatalogTable:
    return CatalogTable(
        name=name,
        description=description,
        columns=_registry_columns(report_type, columns),
        partition=_DAY_PARTITION,
        provisional=schema_for(report_type).provisional,
    )


def manifests_table() -> CatalogTable:
    # Manifests are named dt=<day>.json inside report_type=<TYPE>/, so only the report type is a
    # folder and can be a partition; the day is a column.
    comments = glue_column_comments()
    return CatalogTable(
        name=MANIFESTS_TABLE,
        description="One landing manifest per report type and day: rows, bytes, checksum, drift",
        columns=tuple(CatalogColumn(name, kind, comments[name]) for name, kind in glue_columns()),
        partition=CatalogColumn(
            MANIFESTS_PARTITION_COLUMN, "string", "Report type, e.g. ORDER_FEES (the folder report_type=<TYPE>/)"
        ),
    )


def catalog_tables() -> list[CatalogTable]:
    """Every table: each report type's raw and curated tables, then the manifests."""
    return [table(report_type) for report_type in REPORT_TYPES for table in (raw_table, curated_table)] + [
        manifests_table()
    ]


def _registry_columns(report_type: str, columns: list[tuple[str, str]]) -> tuple[CatalogColumn, ...]:
    """A report table's (name, Glue type) columns, in the registry's order, commented with the
    registry's description of each."""
    schema = schema_for(report_type)
    return tuple(
        CatalogColumn(name, kind, schema.column_description(column))
        for (name, kind), column in zip(columns, schema.columns, strict=True)
    )

"""The lake's tables as a catalog describes them: name, description, columns with their comments, and
the partition columns. The stack's Glue tables (``infra.storage``) and ``bwp-lake dbt-sources`` both
read this module, so Glue and dbt describe the same columns in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from bwp.lake.manifest import glue_column_comments, glue_columns
from bwp.lake.schemas import REPORT_TYPES, schema_for

from bwp_lake.athena.views import PARTITION_COLUMN, STORE_COLUMN, curated_table_columns, raw_table_columns

MANIFESTS_TABLE = "manifests"
REPORT_TYPE_COLUMN = "report_type"


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
    partitions: tuple[CatalogColumn, ...]  # from the folders <name>=<value>/ of each file, outermost first
    provisional: bool = False  # its columns are the registry's provisional guess (see bwp.lake.schemas)


_DAY_PARTITION = CatalogColumn(PARTITION_COLUMN, "string", "UTC day of the report, YYYY-MM-DD (the folder dt=<day>/)")
# The store's description is the manifest's (one owner), with the folder that carries it.
_STORE_PARTITION = CatalogColumn(
    STORE_COLUMN, "string", f"{glue_column_comments()[STORE_COLUMN]} (the folder store=<id>/)"
)


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
        partitions=(_STORE_PARTITION, _DAY_PARTITION),
        provisional=schema_for(report_type).provisional,
    )


def manifests_table() -> CatalogTable:
    # Manifests are named dt=<day>.json inside store=<id>/report_type=<TYPE>/, so the store and
    # the report type are folders and can be partitions; the day is a column. A partition key
    # cannot also be a column: the manifest's own store field is read from its folder.
    comments = glue_column_comments()
    return CatalogTable(
        name=MANIFESTS_TABLE,
        description="One landing manifest per store, report type and day: rows, bytes, checksum, drift",
        columns=tuple(
            CatalogColumn(name, kind, comments[name]) for name, kind in glue_columns() if name != STORE_COLUMN
        ),
        partitions=(
            _STORE_PARTITION,
            CatalogColumn(
                REPORT_TYPE_COLUMN, "string", "Report type, e.g. ORDER_FEES (the folder report_type=<TYPE>/)"
            ),
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

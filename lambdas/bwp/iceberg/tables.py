"""Each report type's Iceberg table: its name, location, columns and partitioning.

The columns are the curated Parquet files' own (``bwp.landing.typed.arrow_schema``: the registry's,
snake_case and typed), so a typed file the land step wrote is a data file of the table as it is;
then ``store`` and ``dt``, the partition's coordinates. The files need not hold those two: Iceberg
reads an identity partition's value from the manifest where a file lacks the column (the spec's
column projection rules), and the commit gives each file its partition.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import TableProperties
from pyiceberg.transforms import IdentityTransform

from bwp.lake.contract import ICEBERG_PREFIX
from bwp.lake.manifest import glue_column_comments
from bwp.lake.schemas import schema_for
from bwp.landing.typed import arrow_schema

STORE_COLUMN = "store"
DAY_COLUMN = "dt"
DAY_DOC = "UTC day of the report (the partition's day)"
# pyiceberg reads an Arrow field's doc from this metadata key (pyiceberg.io.pyarrow.PYARROW_FIELD_DOC_KEY).
FIELD_DOC_KEY = b"doc"

# Set on every table the committer writes to (and restored if they drift). The committer re-plans
# a commit that lost a race from the fresh table (bwp.iceberg.commit), which pyiceberg's own retry
# cannot do for a schema change or a day another writer replaced, and whose defaults wait up to 30
# minutes: so pyiceberg does not retry. Metadata files of replaced versions are deleted as each
# commit lands (the last 100 are kept), as old snapshots are by the expiry.
TABLE_PROPERTIES: dict[str, str] = {
    TableProperties.COMMIT_NUM_RETRIES: "0",
    TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED: "true",
    TableProperties.METADATA_PREVIOUS_VERSIONS_MAX: "100",
}


def table_name(report_type: str) -> str:
    """The table's name in its catalog, e.g. ``order_fees_curated``."""
    return schema_for(report_type).curated_table_name


def table_location(bucket: str, report_type: str) -> str:
    """Where the table's metadata lives: ``s3://<bucket>/iceberg/order_fees_curated``."""
    return f"s3://{bucket}/{ICEBERG_PREFIX}{table_name(report_type)}"


def table_arrow_schema(report_type: str) -> pa.Schema:
    """The table's columns as Arrow types: the curated files' columns, then the partition's. Each
    carries its description (the registry's) as the field's doc, which pyiceberg keeps in the
    table's schema and the Glue catalog shows as the column's comment, as Athena does."""
    schema = schema_for(report_type)
    described = [
        field.with_metadata({FIELD_DOC_KEY: schema.column_description(column)})
        for field, column in zip(arrow_schema(schema), schema.columns, strict=True)
    ]
    return pa.schema(
        [
            *described,
            pa.field(STORE_COLUMN, pa.string(), metadata={FIELD_DOC_KEY: glue_column_comments()[STORE_COLUMN]}),
            pa.field(DAY_COLUMN, pa.date32(), metadata={FIELD_DOC_KEY: DAY_DOC}),
        ]
    )


def partition_spec(schema: Schema) -> PartitionSpec:
    """identity(store), identity(dt): a partition is one store's day, as in every other layer."""
    return PartitionSpec(
        *(
            PartitionField(
                source_id=schema.find_field(column).field_id,
                field_id=1000 + position,
                transform=IdentityTransform(),
                name=column,
            )
            for position, column in enumerate((STORE_COLUMN, DAY_COLUMN))
        )
    )

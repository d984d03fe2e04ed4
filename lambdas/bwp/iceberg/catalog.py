"""The tables' catalog: the Glue Data Catalog in AWS, a SQLite catalog in the local lake directory.

Both hand pyiceberg the same FileIO (``bwp.iceberg.file_io``), so a table's files go through the
caller's S3 client whichever catalog keeps the pointer to its current metadata. Only the pointer
differs: Glue swaps it with a version check, SQLite with a conditional UPDATE; either way a commit
based on a stale version fails and is re-planned (``bwp.iceberg.commit``).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.schema import assign_fresh_schema_ids
from pyiceberg.table import Table

from bwp.iceberg.file_io import file_io_properties
from bwp.iceberg.tables import TABLE_PROPERTIES, partition_spec, table_arrow_schema, table_location, table_name

CATALOG_NAME = "bwp"


@dataclass(frozen=True)
class LakeCatalog:
    """A catalog, the namespace (Glue database) of the tables and the bucket of their files."""

    catalog: Catalog
    namespace: str
    bucket: str

    def table(self, report_type: str) -> Table:
        """The report type's table as the catalog has it now; created, empty, if missing."""
        identifier = (self.namespace, table_name(report_type))
        try:
            table = self.catalog.load_table(identifier)
        except NoSuchTableError:
            table = self._create(identifier, report_type)
        drifted = {key: value for key, value in TABLE_PROPERTIES.items() if table.properties.get(key) != value}
        if drifted:
            with table.transaction() as transaction:
                transaction.set_properties(drifted)
            table = self.catalog.load_table(identifier)
        return table

    def _create(self, identifier: tuple[str, str], report_type: str) -> Table:
        schema = assign_fresh_schema_ids(Catalog._convert_schema_if_needed(table_arrow_schema(report_type)))
        try:
            return self.catalog.create_table(
                identifier,
                schema=schema,
                location=table_location(self.bucket, report_type),
                partition_spec=partition_spec(schema),
                properties=TABLE_PROPERTIES,
            )
        except TableAlreadyExistsError:  # another writer created it first
            return self.catalog.load_table(identifier)


def glue_catalog(glue, s3, *, database: str, bucket: str) -> LakeCatalog:
    """The tables in the Glue database ``database`` (which the stack creates), files in ``bucket``."""
    from pyiceberg.catalog.glue import GlueCatalog

    return LakeCatalog(GlueCatalog(CATALOG_NAME, client=glue, **file_io_properties(s3)), database, bucket)


def sql_catalog(path: Path, s3, *, namespace: str, bucket: str) -> LakeCatalog:
    """The tables in a SQLite catalog at ``path`` (made with its namespace if missing), files in ``bucket``."""
    from pyiceberg.catalog.sql import SqlCatalog  # SQLAlchemy: only where a local catalog is opened

    path.parent.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog(CATALOG_NAME, uri=f"sqlite:///{path}", **file_io_properties(s3))
    with suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(namespace)
    return LakeCatalog(catalog, namespace, bucket)

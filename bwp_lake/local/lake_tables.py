"""The curated Iceberg tables of a local lake directory, read from its files without a bucket.

The lake directory holds what the bucket held (``iceberg/<table>/...``) and the tables' SQLite
catalog (``_catalog/catalog.sqlite``), whose metadata locations name the twin's bucket. A FileIO
that maps ``s3://<bucket>/<key>`` to ``<lake dir>/<key>`` lets pyiceberg read a table, as it is or
as it was at an instant, straight from the directory: the same scan (``bwp.iceberg.reading``) that
a reader in AWS makes through S3.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
from bwp.iceberg.catalog import CATALOG_NAME
from bwp.iceberg.file_io import bucket_and_key
from bwp.iceberg.reading import snapshot_rows
from bwp.iceberg.tables import table_arrow_schema, table_name
from bwp.lake.settings import Settings
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.io import PY_IO_IMPL, InputFile, OutputFile
from pyiceberg.io.pyarrow import PyArrowFile, PyArrowFileIO
from pyiceberg.table import Table

from bwp_lake.local.lake_dir import CATALOG_FILE

LAKE_DIR_PROPERTY = "bwp.lake-dir"


class LakeDirFileIO(PyArrowFileIO):
    """Reads an object of the bucket from its copy in the lake directory; writes nothing."""

    def new_input(self, location: str) -> InputFile:
        return super().new_input(self._local(location))

    def new_output(self, location: str) -> OutputFile:
        raise PermissionError(f"the lake directory's tables are read only here: {location}")

    def delete(self, location: str | InputFile | OutputFile) -> None:
        raise PermissionError(f"the lake directory's tables are read only here: {location}")

    def _local(self, location: str) -> str:
        _, key = bucket_and_key(location)
        return str(Path(self.properties[LAKE_DIR_PROPERTY]) / key)


class WritableLakeDirFileIO(LakeDirFileIO):
    """Writes and deletes the bucket's objects as the lake directory's files, as a run mirrors them."""

    def new_output(self, location: str) -> OutputFile:
        """The file at its copy's path, still named by its location in the bucket, as the
        metadata that lists it must name it."""
        path = Path(self._local(location))
        path.parent.mkdir(parents=True, exist_ok=True)
        local = super(LakeDirFileIO, self).new_output(str(path))
        return PyArrowFile(location=location, path=local._path, fs=local._filesystem)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        Path(self._local(location if isinstance(location, str) else location.location)).unlink(missing_ok=True)


class LakeDirTables:
    """The curated tables of ``root``, as their catalog there has them; ``writable`` to change them
    (their files written and deleted in the directory)."""

    def __init__(self, root: Path, *, writable: bool = False) -> None:
        path = root / CATALOG_FILE
        # The namespace the engine's functions write the tables in: the settings' default.
        self.namespace = Settings.default_of("catalog_database")
        file_io = WritableLakeDirFileIO if writable else LakeDirFileIO
        self.catalog = (
            SqlCatalog(
                CATALOG_NAME,
                uri=f"sqlite:///{path}",
                **{PY_IO_IMPL: f"{__name__}.{file_io.__qualname__}", LAKE_DIR_PROPERTY: str(root)},
            )
            if path.exists()
            else None
        )

    def table(self, report_type: str) -> Table | None:
        """The report type's table; None before its first commit."""
        if self.catalog is None:
            return None
        try:
            return self.catalog.load_table((self.namespace, table_name(report_type)))
        except NoSuchTableError:
            return None

    def rows(self, report_type: str, as_of: datetime | None = None) -> pa.Table:
        """The table's rows now, or as they were at ``as_of``; no rows (with the registry's
        columns) before its first commit."""
        table = self.table(report_type)
        if table is None:
            return table_arrow_schema(report_type).empty_table()
        return snapshot_rows(table, as_of=as_of)

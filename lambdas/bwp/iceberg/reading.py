"""Reading a curated table as Arrow: as it is now, or as it was at an instant (time travel).

pyiceberg plans the scan from the table's metadata and reads the data files through the catalog's
FileIO, so the rows come from the same S3 client as everything else; DuckDB queries the Arrow
table as it is (``connection.from_arrow``).
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.table import Table

from bwp.iceberg.catalog import LakeCatalog


def read_table(
    catalog: LakeCatalog,
    report_type: str,
    *,
    as_of: datetime | None = None,
    row_filter: BooleanExpression | None = None,
) -> pa.Table:
    """The table's rows in its current snapshot, or in the snapshot that was current at ``as_of``
    (no rows if the table had none then), with the columns the table had in that snapshot."""
    return snapshot_rows(catalog.table(report_type), as_of=as_of, row_filter=row_filter)


def snapshot_rows(
    table: Table, *, as_of: datetime | None = None, row_filter: BooleanExpression | None = None
) -> pa.Table:
    """``table``'s rows as ``read_table`` reads them, for a reader that loaded the table itself."""
    snapshot = table.current_snapshot() if as_of is None else table.snapshot_as_of_timestamp(_millis(as_of))
    if snapshot is None:
        return schema_to_pyarrow(table.schema()).empty_table()
    return table.scan(row_filter=row_filter or AlwaysTrue(), snapshot_id=snapshot.snapshot_id).to_arrow()


def _millis(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError(f"an instant needs its time zone: {instant.isoformat()}")
    return int(instant.timestamp() * 1000)

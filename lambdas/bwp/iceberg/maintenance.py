"""Snapshot expiry: a table keeps its snapshots for a retention (30 days unless told), then forgets
them and deletes the files only they held.

Time travel reaches back as far as the retention: a restated day's old rows, or a deleted day's,
are gone from the bucket once every snapshot that held them has expired. The current snapshot is
always kept, however old. Compaction is not needed as the tables are written: a commit adds one
file per store's day (the land step's, as large as the day's report), so there are no small files
to merge; expiry is what keeps the metadata and the bucket from growing without end.

Forgetting a store (one that left) is a delete and an expiry at once: one snapshot drops every
file of the store, then every snapshot but that one is expired, so that no snapshot, and no time
travel, still reads a file of the store, and those files are deleted from the bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyiceberg.expressions import BooleanExpression
from pyiceberg.io import FileIO
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from bwp.aws import transient_aws_errors
from bwp.iceberg.catalog import LakeCatalog
from bwp.iceberg.commit import COMMIT_ATTEMPTS, column_equals, with_attempts
from bwp.iceberg.tables import STORE_COLUMN

RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Expiry:
    snapshots_expired: int
    files_deleted: int  # data files, manifests and manifest lists that no kept snapshot reads


def expire_snapshots(
    catalog: LakeCatalog,
    report_type: str,
    *,
    now: datetime,
    retention: timedelta = RETENTION,
    attempts: int = COMMIT_ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> Expiry:
    """Forget the table's snapshots committed before ``now - retention`` but the current one, then
    delete the files that only they read."""
    cut = int((now - retention).timestamp() * 1000)
    return _expire_and_delete(catalog, report_type, lambda snapshot: snapshot.timestamp_ms < cut, attempts, pause)


@dataclass(frozen=True)
class Forgotten:
    rows_deleted: int  # the store's rows the table held
    expiry: Expiry


def forget_store(
    catalog: LakeCatalog,
    report_type: str,
    store: str,
    *,
    attempts: int = COMMIT_ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> Forgotten:
    """Delete every row of ``store`` from the table in one snapshot, then forget every other
    snapshot and delete the files only they read: none of the store's files is left, nor any
    snapshot to travel back to. Run again, it deletes nothing more and expires what a run that
    stopped half-way left (the store's rows already gone, older snapshots not)."""
    what = f"deleting store {store}'s rows of {report_type}"
    with transient_aws_errors(what):
        deleted = with_attempts(lambda: _delete_rows(catalog.table(report_type), store), attempts, pause, what)[0]
    return Forgotten(deleted, _expire_and_delete(catalog, report_type, lambda _snapshot: True, attempts, pause))


def _delete_rows(table: Table, store: str) -> int:
    """One snapshot without the store's files (a file holds one store's day, so whole files go);
    none when the table holds no row of the store."""
    rows = store_rows(table, store)
    if rows:
        table.delete(_store_filter(store))
    return rows


def store_rows(table: Table, store: str) -> int:
    """How many rows of ``store`` the table's current snapshot holds, from its manifests alone."""
    return sum(task.file.record_count for task in table.scan(row_filter=_store_filter(store)).plan_files())


def _store_filter(store: str) -> BooleanExpression:
    return column_equals(STORE_COLUMN, store)


def _expire_and_delete(
    catalog: LakeCatalog,
    report_type: str,
    expires: Callable[[Snapshot], bool],
    attempts: int,
    pause: Callable[[float], None],
) -> Expiry:
    """Forget the snapshots ``expires`` picks (never the current one), then delete the files only they read."""
    what = f"expiring snapshots of {report_type}"
    with transient_aws_errors(what):
        table, expired = with_attempts(lambda: _expire(catalog, report_type, expires), attempts, pause, what)[0]
        if not expired:
            return Expiry(0, 0)
        kept = _files_read_by(table.io, table.snapshots())
        orphans = sorted(_files_read_by(table.io, expired) - kept)
        for location in orphans:
            table.io.delete(location)
    return Expiry(len(expired), len(orphans))


def _expire(
    catalog: LakeCatalog, report_type: str, expires: Callable[[Snapshot], bool]
) -> tuple[Table, list[Snapshot]]:
    table = catalog.table(report_type)
    current = table.current_snapshot()
    expired = [
        snapshot
        for snapshot in table.snapshots()
        if expires(snapshot) and (current is None or snapshot.snapshot_id != current.snapshot_id)
    ]
    if expired:
        table.maintenance.expire_snapshots().by_ids([snapshot.snapshot_id for snapshot in expired]).commit()
        table = catalog.table(report_type)
    return table, expired


def _files_read_by(io: FileIO, snapshots: Iterable[Snapshot]) -> set[str]:
    """Every file a reader of these snapshots opens: manifest lists, manifests, data files."""
    files: set[str] = set()
    seen_manifests: set[str] = set()
    for snapshot in snapshots:
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            files.add(manifest.manifest_path)
            files.update(entry.data_file.file_path for entry in manifest.fetch_manifest_entry(io, discard_deleted=True))
    return files

"""Snapshot expiry: a table keeps its snapshots for a retention (30 days unless told), then forgets
them and deletes the files only they held.

Time travel reaches back as far as the retention: a restated day's old rows, or a deleted day's,
are gone from the bucket once every snapshot that held them has expired. The current snapshot is
always kept, however old. Compaction is not needed as the tables are written: a commit adds one
file per store's day (the land step's, as large as the day's report), so there are no small files
to merge; expiry is what keeps the metadata and the bucket from growing without end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyiceberg.io import FileIO
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from bwp.aws import transient_aws_errors
from bwp.iceberg.catalog import LakeCatalog
from bwp.iceberg.commit import COMMIT_ATTEMPTS, with_attempts

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
    what = f"expiring snapshots of {report_type}"
    with transient_aws_errors(what):
        table, expired = with_attempts(lambda: _expire(catalog, report_type, now - retention), attempts, pause, what)[0]
        if not expired:
            return Expiry(0, 0)
        kept = _files_read_by(table.io, table.snapshots())
        orphans = sorted(_files_read_by(table.io, expired) - kept)
        for location in orphans:
            table.io.delete(location)
    return Expiry(len(expired), len(orphans))


def _expire(catalog: LakeCatalog, report_type: str, before: datetime) -> tuple[Table, list[Snapshot]]:
    table = catalog.table(report_type)
    current = table.current_snapshot()
    cut = int(before.timestamp() * 1000)
    expired = [
        snapshot
        for snapshot in table.snapshots()
        if snapshot.timestamp_ms < cut and (current is None or snapshot.snapshot_id != current.snapshot_id)
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

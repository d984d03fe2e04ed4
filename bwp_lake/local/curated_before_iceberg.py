"""The curated layer of a lake directory written before the curated tables were Iceberg tables:
its typed Parquet files (``curated/store=<id>/report_type=<T>/dt=<D>/<T>_<D>.parquet``, one per
landed day) become data files of the tables, once, when a run opens the directory.

Each day with a manifest is committed with the task id and raw checksum its manifest records, so
its rows are in the table as they were in the files, and the day keeps counting as landed without
downloading it again. A file is put at a key named for its task, so a commit that is interrupted
and made again adds nothing twice (``replace_days`` leaves a day alone whose files are already
the table's). A file of a day without a manifest never landed: it is left out, as it was of every
query before.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bwp.iceberg.catalog import LakeCatalog
from bwp.iceberg.commit import LandedDay, replace_days
from bwp.lake.contract import CURATED_PREFIX
from bwp.lake.partition import Partition

_CURATED_FILE = re.compile(
    r"^store=(?P<store>[a-z0-9-]+)/report_type=(?P<type>[A-Z0-9_]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})/[^/]+\.parquet$"
)


def commit_curated_files(root: Path, s3, bucket: str, open_catalog: Callable[[], LakeCatalog]) -> list[Partition]:
    """Commit the directory's curated files of the layout before Iceberg into the tables, then take
    the layer away; the days committed. A directory without such files costs one look (the catalog
    is opened only when there is something to commit)."""
    folder = root / CURATED_PREFIX
    if not folder.is_dir():
        return []
    landed: dict[str, list[LandedDay]] = {}
    for path in sorted(folder.rglob("*.parquet")):
        match = _CURATED_FILE.match(path.relative_to(folder).as_posix())
        if match is None:
            continue
        partition = Partition(match["store"], match["type"], date.fromisoformat(match["day"]))
        manifest_path = root / partition.manifest_key
        if not manifest_path.is_file():
            continue
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        key = partition.curated_data_key(f"{manifest['taskId']}.before-iceberg")
        s3.upload_file(str(path), bucket, key)
        landed.setdefault(partition.report_type, []).append(
            LandedDay(partition.store, partition.day, manifest["taskId"], manifest["sha256"], (key,))
        )
    if landed:
        catalog = open_catalog()
        for report_type, days in landed.items():
            replace_days(catalog, report_type, days)
    shutil.rmtree(folder)
    return sorted(Partition(day.store, report_type, day.day) for report_type, days in landed.items() for day in days)

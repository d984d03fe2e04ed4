"""The lake directory: the bucket's reports, curated files, manifests and quarantined reports,
copied as each window lands, and put back into the next run's bucket, so that the directory
remembers as the bucket does.

A file appears in its partition whole or not at all: it is downloaded under ``_incoming/``,
outside every partition, then renamed into place. A window's manifest is copied after its
report, so a manifest in the directory always has its report beside it.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from pathlib import Path

from bwp.lake.contract import CURATED_PREFIX, MANIFESTS_PREFIX, QUARANTINE_PREFIX, REPORTS_PREFIX
from bwp.lake.partition import Partition

INCOMING = "_incoming"
# Copied from the bucket in this order: a manifest never arrives before its report.
MIRRORED_PREFIXES = (QUARANTINE_PREFIX, REPORTS_PREFIX, CURATED_PREFIX, MANIFESTS_PREFIX)
# boto3's download_file writes "<name>.<8 hex digits>" beside its target until the download is
# done; a copy killed midway left such a file inside its partition.
_TRANSFER_LEFTOVER = re.compile(r"\.(csv\.gz|parquet|json)\.[0-9a-fA-F]{8}$")


class LakeDirectory:
    """The bucket's objects under the contract's prefixes, mirrored into ``root``."""

    def __init__(self, root: Path, s3, bucket: str) -> None:
        self.root = root
        self._s3 = s3
        self._bucket = bucket
        self._incoming = root / INCOMING
        self._copied: dict[str, str] = {}  # key -> ETag of the version the directory holds
        self._lock = threading.Lock()

    def remove_stale_temp_files(self) -> list[Path]:
        """Half-copied files that an earlier, interrupted copy left behind."""
        stale = [path for path in self._incoming.glob("*") if path.is_file()]
        for prefix in MIRRORED_PREFIXES:
            stale += [path for path in (self.root / prefix).rglob("*") if _TRANSFER_LEFTOVER.search(path.name)]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def export_window(self, partition: Partition) -> list[Path]:
        """One landed window: its report, its curated file, then its manifest."""
        return [self._copy(key) for key in (partition.raw_key, partition.curated_key, partition.manifest_key)]

    def sweep(self) -> list[Path]:
        """Whatever is in the bucket and not yet here as it is there: every quarantined report,
        report and curated file, then every manifest."""
        written = []
        for prefix in MIRRORED_PREFIXES:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    with self._lock:
                        copied = self._copied.get(item["Key"]) == item["ETag"]
                    if not copied:
                        written.append(self._copy(item["Key"]))
        if self._incoming.is_dir() and not any(self._incoming.iterdir()):
            self._incoming.rmdir()
        return written

    def load_into_bucket(self) -> None:
        """Put what the directory holds into the bucket, as the bucket held it when it was copied
        here: plans, expected generation times and gaps then see every earlier run. Reports and
        curated files go first, each manifest after them."""
        for prefix in MIRRORED_PREFIXES:
            for path in sorted((self.root / prefix).rglob("*")):
                if path.is_file():
                    key = path.relative_to(self.root).as_posix()
                    with path.open("rb") as body:
                        etag = self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)["ETag"]
                    with self._lock:
                        self._copied[key] = etag

    def _copy(self, key: str) -> Path:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        self._incoming.mkdir(parents=True, exist_ok=True)
        temporary = self._incoming / f"{uuid.uuid4().hex}-{target.name}"
        response = self._s3.get_object(Bucket=self._bucket, Key=key)
        try:
            with temporary.open("wb") as out:
                shutil.copyfileobj(response["Body"], out)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        with self._lock:
            self._copied[key] = response["ETag"]
        return target

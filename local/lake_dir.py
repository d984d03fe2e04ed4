"""The lake directory: the bucket's reports, curated files, manifests and quarantined reports,
copied as each window lands.

A file appears in its partition whole or not at all: it is downloaded under ``_incoming/``,
outside every partition, then renamed into place. A window's manifest is copied after its
report, so a manifest in the directory always has its report beside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import uuid
from decimal import Decimal
from pathlib import Path

from bwp.contract import CURATED_PREFIX, MANIFESTS_PREFIX, QUARANTINE_PREFIX, REPORTS_PREFIX
from bwp.coordination import LEDGER_PK_PREFIX
from bwp.schemas import curated_key, manifest_key, report_key

INCOMING = "_incoming"
# The task ledger's windows, kept between runs as the stack's table keeps them: a later run, and
# `bwp-lake gaps`, still know which days failed and why.
LEDGER_FILE = Path("_state") / "ledger.json"
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
        self._copied: dict[str, str] = {}  # key -> ETag of the version copied by this process
        self._lock = threading.Lock()

    def remove_stale_temp_files(self) -> list[Path]:
        """Half-copied files that an earlier, interrupted copy left behind."""
        stale = [path for path in self._incoming.glob("*") if path.is_file()]
        for prefix in (QUARANTINE_PREFIX, REPORTS_PREFIX, CURATED_PREFIX, MANIFESTS_PREFIX):
            stale += [path for path in (self.root / prefix).rglob("*") if _TRANSFER_LEFTOVER.search(path.name)]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def export_window(self, report_type: str, day: str) -> list[Path]:
        """One landed window: its report, its curated file, then its manifest."""
        return [
            self._copy(report_key(REPORTS_PREFIX, report_type, day)),
            self._copy(curated_key(CURATED_PREFIX, report_type, day)),
            self._copy(manifest_key(MANIFESTS_PREFIX, report_type, day)),
        ]

    def sweep(self) -> list[Path]:
        """Whatever is in the bucket and not yet here as it is there: every quarantined report,
        report and curated file, then every manifest."""
        written = []
        for prefix in (QUARANTINE_PREFIX, REPORTS_PREFIX, CURATED_PREFIX, MANIFESTS_PREFIX):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    with self._lock:
                        copied = self._copied.get(item["Key"]) == item["ETag"]
                    if not copied:
                        written.append(self._copy(item["Key"]))
        if self._incoming.is_dir() and not any(self._incoming.iterdir()):
            self._incoming.rmdir()
        return written

    def load_ledger(self, table) -> int:
        """Put the ledger entries an earlier run saved into ``table``; how many."""
        items = saved_ledger_items(self.root)
        with table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)
        return len(items)

    def save_ledger(self, table) -> Path:
        """Write the table's ledger entries (not its slots: those belong to one API's tasks)."""
        items = []
        request: dict = {}
        while True:
            page = table.scan(**request)
            items += [item for item in page.get("Items", []) if item["pk"].startswith(LEDGER_PK_PREFIX)]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        target = self.root / LEDGER_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        self._incoming.mkdir(parents=True, exist_ok=True)
        temporary = self._incoming / f"{uuid.uuid4().hex}-{target.name}"
        temporary.write_text(json.dumps(sorted(items, key=lambda i: (i["pk"], i["sk"])), default=_number, indent=1))
        os.replace(temporary, target)
        return target

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


def saved_ledger_items(root: Path) -> list[dict]:
    """The ledger entries the last run over the lake directory ``root`` saved (none at first)."""
    path = root / LEDGER_FILE
    return json.loads(path.read_text(), parse_float=Decimal) if path.exists() else []


def _number(value: object) -> int | float:
    """DynamoDB numbers come back as Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")

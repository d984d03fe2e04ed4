"""The lake directory: the bucket's reports, curated Iceberg tables, manifests and quarantined
reports, copied as each run's commit publishes them, and put back into the next run's bucket, so
that the directory remembers as the bucket does. The tables' SQLite catalog lives here too
(``_catalog/``): the engine's functions write a working copy, saved here after each commit.

A file appears whole or not at all: it is downloaded under ``_incoming/``, outside every
partition, then renamed into place. After a commit the tables' files are copied first, then the
catalog that points at them, then the manifests, so a manifest in the directory always has its
report and its table rows beside it.

A directory written before the lake's keys carried the store (``reports/report_type=T/...``,
ledger items ``WINDOW#<type>``) is moved, once, into the store ``default`` (what a deployment
naming no stores serves) when a run or a reading command first opens it: file by file, each
renamed into place, reports before manifests, so that an interrupted move is finished by the next
opening and a manifest never stands in the store's layout without its report.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path

from bwp.coordination import LEDGER_PK_PREFIX
from bwp.lake.contract import CURATED_PREFIX, ICEBERG_PREFIX, MANIFESTS_PREFIX, QUARANTINE_PREFIX, REPORTS_PREFIX
from bwp.lake.partition import store_prefix
from bwp.lake.stores import DEFAULT_STORE_ID

from bwp_lake.local.lake_state import rewrite_saved_items

INCOMING = "_incoming"
# The curated tables' SQLite catalog (bwp.iceberg.catalog), relative to the lake directory.
CATALOG_FILE = "_catalog/catalog.sqlite"
# Copied from the bucket in this order: a manifest never arrives before its report.
MIRRORED_PREFIXES = (QUARANTINE_PREFIX, REPORTS_PREFIX, ICEBERG_PREFIX, MANIFESTS_PREFIX)
# boto3's download_file writes "<name>.<8 hex digits>" beside its target until the download is
# done; a copy killed midway left such a file inside its partition.
_TRANSFER_LEFTOVER = re.compile(r"\.(csv\.gz|parquet|json|avro)\.[0-9a-fA-F]{8}$")
# The layers of the layout before stores, in the order they are moved: reports before manifests.
_STORELESS_LAYERS = (QUARANTINE_PREFIX, REPORTS_PREFIX, CURATED_PREFIX, MANIFESTS_PREFIX)
# A folder of the layout before stores: the report type right under the layer.
_STORELESS_FOLDER = "report_type=*"
_STORELESS_KEY = re.compile(r"^(?P<layer>(?:" + "|".join(map(re.escape, _STORELESS_LAYERS)) + r"))(?=report_type=)")
_STORELESS_LEDGER_PK = re.compile(f"^{re.escape(LEDGER_PK_PREFIX)}[^#]+$")


def has_storeless_layout(root: Path) -> bool:
    """Whether the directory still holds files of the layout before stores."""
    return any(any((root / prefix).glob(_STORELESS_FOLDER)) for prefix in _STORELESS_LAYERS)


def move_into_stores(root: Path) -> list[Path]:
    """Move what the layout before stores left in ``root`` into the store ``default``: its files,
    then its ledger's items (their quarantine keys renamed with the files). Call it holding the
    directory. Nothing to do (and nothing written) for a directory in the stores' layout."""
    moved = []
    for prefix in _STORELESS_LAYERS:  # reports before their manifests, as they are copied
        for folder in sorted((root / prefix).glob(_STORELESS_FOLDER)):
            store_folder = root / store_prefix(prefix, DEFAULT_STORE_ID) / folder.name
            for path in sorted(folder.rglob("*")):
                if not path.is_file():
                    continue
                target = store_folder / path.relative_to(folder)
                if target.exists():
                    path.unlink()  # moved already, by an opening interrupted before it cleared this one
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                moved.append(target)
            shutil.rmtree(folder)  # its folders, empty now
    rewrite_saved_items(root, _ledger_item_in_default_store)
    return moved


def storeless_key_in_default_store(key: str) -> str:
    """A key of the layout before stores, as the store ``default`` keeps it (others unchanged)."""
    return _STORELESS_KEY.sub(lambda match: store_prefix(match["layer"], DEFAULT_STORE_ID), key, count=1)


def _ledger_item_in_default_store(item: dict) -> dict:
    if not _STORELESS_LEDGER_PK.match(item["pk"]):
        return item
    moved = {**item, "pk": LEDGER_PK_PREFIX + f"{DEFAULT_STORE_ID}#" + item["pk"].removeprefix(LEDGER_PK_PREFIX)}
    if isinstance(item.get("quarantineKey"), str):
        moved["quarantineKey"] = storeless_key_in_default_store(item["quarantineKey"])
    return moved


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

    def export_commit(self, catalog: Path) -> list[Path]:
        """Whatever is in the bucket and not yet here as it is there, as a commit left it: the
        quarantined reports, reports and tables' files, then the working catalog ``catalog`` that
        points at them, then the manifests that say the days landed."""
        written = self._sweep(MIRRORED_PREFIXES[:-1])
        self.save_catalog(catalog)
        return written + self._sweep(MIRRORED_PREFIXES[-1:])

    def save_catalog(self, catalog: Path) -> None:
        """The working catalog, copied here whole (SQLite's backup: a consistent copy even while a
        writer has it open)."""
        if not catalog.exists():
            return
        target = self.root / CATALOG_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{uuid.uuid4().hex}.sqlite")
        try:
            with sqlite3.connect(catalog) as source, sqlite3.connect(temporary) as copy:
                source.backup(copy)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)

    def restore_catalog(self, catalog: Path) -> None:
        """The catalog this directory holds, as the working catalog ``catalog`` of a new run."""
        if (self.root / CATALOG_FILE).exists():
            catalog.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.root / CATALOG_FILE, catalog)

    def _sweep(self, prefixes: tuple[str, ...]) -> list[Path]:
        written = []
        for prefix in prefixes:
            in_bucket = set()
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    in_bucket.add(item["Key"])
                    with self._lock:
                        copied = self._copied.get(item["Key"]) == item["ETag"]
                    if not copied:
                        written.append(self._copy(item["Key"]))
            if prefix == ICEBERG_PREFIX:
                self._forget_deleted(prefix, in_bucket)
        if self._incoming.is_dir() and not any(self._incoming.iterdir()):
            self._incoming.rmdir()
        return written

    def _forget_deleted(self, prefix: str, in_bucket: set[str]) -> None:
        """The tables' files their maintenance deleted (expired snapshots' files, replaced
        metadata) go here too, or every later run would put them back into the bucket."""
        for path in (self.root / prefix).rglob("*"):
            if path.is_file() and path.relative_to(self.root).as_posix() not in in_bucket:
                path.unlink()

    def load_into_bucket(self) -> None:
        """Put what the directory holds into the bucket, as the bucket held it when it was copied
        here: plans, expected generation times and gaps then see every earlier run. Reports and
        table files go first, each manifest after them."""
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

"""``bwp-lake forget-store``: delete everything the lake holds of a store that left.

A store's data is one folder in each layer (``<layer>/store=<id>/``), but the curated tables are
Iceberg tables: their snapshots list the store's data files, so deleting those files by prefix
would leave tables that fail to read. The tables go first: each drops the store's rows in one
snapshot and expires every older snapshot, deleting the files only those read
(``bwp.iceberg.maintenance.forget_store``); then every layer's folder of the store is deleted, with
any data file of the store no snapshot listed (a commit that never landed). A store the stack
still serves is refused: its next run would land it again.

Without ``--yes`` it only says what it would delete (the store's rows per table, objects per
folder) and exits 1. Against the deployed stack (its bucket and Glue database) or, with
``--lake-dir``, a local lake directory (its files and SQLite catalog).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from bwp.errors import BwpError
from bwp.iceberg.catalog import LakeCatalog
from bwp.iceberg.file_io import bucket_and_key
from bwp.iceberg.tables import table_name
from bwp.lake.contract import CURATED_PREFIX
from bwp.lake.partition import STORE_LAYERS, curated_data_prefix, store_prefix
from bwp.lake.schemas import REPORT_TYPES
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table

from bwp_lake.cli.deployed import StackNotUsable, add_stack_command, client, stack_output_values, store_ids
from bwp_lake.cli.execution_input import store_id
from bwp_lake.cli.lake_state import LAKE_ERRORS, refused
from bwp_lake.infra.outputs import DATA_BUCKET, DATABASE, STORE_IDS
from bwp_lake.local.lake_state import LakeDirectoryInUse

# S3's DeleteObjects takes at most this many keys.
DELETE_BATCH = 1000


class StoreStillServed(ValueError):
    """The store named is one the stack (or the local configuration) still serves."""


class DeployedLake:
    """The deployed stack's bucket and Glue database."""

    def __init__(self, args: argparse.Namespace) -> None:
        from bwp.iceberg.catalog import glue_catalog

        bucket, database, served = stack_output_values(args, DATA_BUCKET, DATABASE, STORE_IDS)
        self.served = store_ids(served)
        self.where = f"stack {args.stack_name}"
        self._s3, self._bucket = client(args, "s3"), bucket
        self._catalog = glue_catalog(client(args, "glue"), self._s3, database=database, bucket=bucket)

    def held(self) -> AbstractContextManager[None]:
        return nullcontext()

    def catalog(self, report_type: str) -> LakeCatalog | None:
        """The catalog of the report type's table; None when no commit created the table."""
        try:  # loaded, never created
            self._catalog.catalog.load_table((self._catalog.namespace, table_name(report_type)))
        except NoSuchTableError:
            return None
        return self._catalog

    def batches(self, prefix: str) -> Iterator[list[str]]:
        """The keys under ``prefix``, a listing page at a time."""
        for page in self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, PaginationConfig={"PageSize": DELETE_BATCH}
        ):
            keys = [item["Key"] for item in page.get("Contents", [])]
            if keys:
                yield keys

    def emptied(self, prefix: str) -> None:
        """Nothing to do: a prefix is no object of its own."""

    def delete(self, prefix: str, keys: list[str]) -> None:
        answer = self._s3.delete_objects(
            Bucket=self._bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise DeleteRefused(
                f"S3 refused to delete {len(answer['Errors'])} object(s) under {prefix}, e.g. {first['Key']}: "
                f"{first.get('Code')}: {first.get('Message')}; fix the bucket's permissions and run it again"
            )


class DeleteRefused(Exception):
    """S3 refused to delete some of the objects."""


class LocalLake:
    """A lake directory as ``bwp-lake local-run`` leaves it, held against a run while it changes."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise FileNotFoundError(f"--lake-dir {root} is not a directory")
        from bwp_lake.local.lake_tables import LakeDirTables  # pyiceberg's SQL catalog: only for a lake directory

        self.root = root
        self.served: list[str] = []  # a local run names its stores each time: none is configured
        self.where = f"lake directory {root}"
        self._tables = LakeDirTables(root, writable=True)

    def held(self) -> AbstractContextManager[None]:
        from bwp_lake.local.lake_state import held_by_this_run

        return held_by_this_run(self.root)

    def catalog(self, report_type: str) -> LakeCatalog | None:
        table: Table | None = self._tables.table(report_type)
        if table is None or self._tables.catalog is None:
            return None
        bucket, _ = bucket_and_key(table.location())
        return LakeCatalog(self._tables.catalog, self._tables.namespace, bucket)

    def batches(self, prefix: str) -> Iterator[list[str]]:
        folder = self.root / prefix
        keys = sorted(str(path.relative_to(self.root)) for path in folder.rglob("*") if path.is_file())
        for start in range(0, len(keys), DELETE_BATCH):
            yield keys[start : start + DELETE_BATCH]

    def delete(self, prefix: str, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)

    def emptied(self, prefix: str) -> None:
        """The folder, its files deleted, goes too: a bucket has no folder to leave behind."""
        if not any(self.batches(prefix)):
            shutil.rmtree(self.root / prefix, ignore_errors=True)


Lake = DeployedLake | LocalLake


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "forget-store",
        run,
        help="delete a departed store's rows, snapshots and files from the lake",
        description="Delete everything the lake holds of a store the stack no longer serves: its rows of "
        "the curated Iceberg tables (one snapshot each, then every older snapshot expired and the files "
        "only they read deleted) and its folder in every layer. Without --yes, say what would go.",
    )
    parser.add_argument("--store", required=True, type=store_id, metavar="ID", help="the store to forget")
    parser.add_argument("--yes", action="store_true", help="delete; without it, only say what would be deleted")
    parser.add_argument(
        "--lake-dir",
        type=Path,
        help="a local lake directory (bwp-lake local-run's); without it, the deployed stack",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line (progress on stderr)")


def run(args: argparse.Namespace) -> int:
    store = args.store
    try:
        lake: Lake = LocalLake(args.lake_dir) if args.lake_dir else DeployedLake(args)
        if store in lake.served:
            raise StoreStillServed(
                f"store {store} is still configured in {lake.where}: remove it from cdk.json and "
                "`make deploy` first, then forget it"
            )
        with lake.held():
            return _forget(args, lake, store) if args.yes else _preview(args, lake, store)
    except (*LAKE_ERRORS, StackNotUsable, LakeDirectoryInUse, BwpError, DeleteRefused) as error:
        return refused(error)


def _folders(store: str) -> list[str]:
    """Every folder of the store: each layer's, the earlier Hive curated layer's, and each table's
    data files (those no snapshot lists are left once the tables forgot the store)."""
    layers = [store_prefix(layer, store) for layer in (*STORE_LAYERS, CURATED_PREFIX)]
    return [*layers, *(curated_data_prefix(report_type, store) for report_type in REPORT_TYPES)]


def _preview(args: argparse.Namespace, lake: Lake, store: str) -> int:
    from bwp.iceberg.maintenance import store_rows

    rows: dict[str, int] = {}
    for report_type in REPORT_TYPES:
        catalog = lake.catalog(report_type)
        rows[table_name(report_type)] = store_rows(catalog.table(report_type), store) if catalog else 0
    objects = {prefix: sum(len(batch) for batch in lake.batches(prefix)) for prefix in _folders(store)}
    if args.json:
        print(json.dumps({"store": store, "deleted": False, "tableRows": rows, "objects": objects}))
    else:
        for table, count in rows.items():
            print(f"{table}: {count} row(s) of store {store}")
        for prefix, count in objects.items():
            print(f"{prefix}: {count} object(s)")
    print(f"nothing deleted: add --yes to forget store {store} in {lake.where}", file=sys.stderr)
    return 1


def _forget(args: argparse.Namespace, lake: Lake, store: str) -> int:
    from bwp.iceberg.maintenance import forget_store

    progress = sys.stderr if args.json else sys.stdout
    tables: dict[str, dict[str, int]] = {}
    for report_type in REPORT_TYPES:
        catalog = lake.catalog(report_type)
        if catalog is None:
            continue
        print(f"{table_name(report_type)}: deleting store {store}'s rows, expiring older snapshots", file=progress)
        forgotten = forget_store(catalog, report_type, store)
        tables[table_name(report_type)] = {
            "rowsDeleted": forgotten.rows_deleted,
            "snapshotsExpired": forgotten.expiry.snapshots_expired,
            "filesDeleted": forgotten.expiry.files_deleted,
        }
        expiry = forgotten.expiry
        print(
            f"{table_name(report_type)}: {forgotten.rows_deleted} row(s) deleted, "
            f"{expiry.snapshots_expired} snapshot(s) expired, {expiry.files_deleted} file(s) deleted",
            file=progress,
        )
    objects: dict[str, int] = {}
    for prefix in _folders(store):
        objects[prefix] = 0
        for batch in lake.batches(prefix):
            lake.delete(prefix, batch)
            objects[prefix] += len(batch)
            print(f"{prefix}: {objects[prefix]} object(s) deleted", file=progress)
        lake.emptied(prefix)
    answer: dict[str, Any] = {"store": store, "deleted": True, "tables": tables, "objects": objects}
    if args.json:
        print(json.dumps(answer))
    else:
        print(f"store {store} forgotten in {lake.where}: {sum(objects.values())} object(s) deleted from its folders")
    return 0

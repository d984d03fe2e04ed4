"""What a lake says of itself, read the same way from a local lake directory or the deployed stack.

The manifests say which (store, report type, day) partitions landed and how many rows each
holds; the task ledger remembers the last failure of a day that has not landed since. ``bwp-lake
gaps`` and ``bwp-lake status`` read a lake through one of the two sources here and share their
flags. Both answer per store: the stores ``--store`` names, else every store the lake knows (that
has a manifest or a ledger entry), else ``default``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from bwp.coordination import LedgerEntry, TaskLedger
from bwp.gaps import manifest_keys_in_s3
from bwp.lake.contract import MANIFESTS_PREFIX
from bwp.lake.partition import Partition, Series
from bwp.lake.schemas import REPORT_TYPES
from bwp.lake.stores import DEFAULT_STORE_ID

from bwp_lake.cli.deployed import StackNotUsable, client, stack_output_values, store_ids, table
from bwp_lake.cli.execution_input import add_store_argument
from bwp_lake.infra.outputs import DATA_BUCKET, STATE_TABLE, STORE_IDS
from bwp_lake.local.lake_dir import has_storeless_layout, move_into_stores
from bwp_lake.local.lake_state import LakeDirectoryInUse, held_by_this_run, saved_ledger_items


class LakeArgumentError(ValueError):
    """A flag names no report type, or an empty or reversed range of days."""


class LakeSource(Protocol):
    def manifest_keys(self) -> list[str]: ...

    def ledger_entries(self, series: list[Series]) -> list[LedgerEntry]: ...

    def manifest(self, key: str) -> dict[str, Any]: ...

    def known_stores(self) -> list[str]: ...


class LocalLake:
    """A lake directory as ``bwp-lake local-run`` leaves it: the bucket's keys as paths."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise FileNotFoundError(f"--lake-dir {root} is not a directory")
        self.root = root
        if has_storeless_layout(root):
            # Written before keys carried the store: moved into the store `default` once, as a run does.
            try:
                with held_by_this_run(root):
                    move_into_stores(root)
            except LakeDirectoryInUse:
                pass  # the run that holds it moved it when it started

    def manifest_keys(self) -> list[str]:
        return [path.relative_to(self.root).as_posix() for path in (self.root / MANIFESTS_PREFIX).rglob("*.json")]

    def ledger_entries(self, series: list[Series]) -> list[LedgerEntry]:
        entries = [LedgerEntry.from_item(item) for item in saved_ledger_items(self.root)]
        return [entry for entry in entries if entry.partition.series in series]

    def known_stores(self) -> list[str]:
        """The stores with a manifest or a ledger entry in the directory."""
        ledger = [LedgerEntry.from_item(item).store for item in saved_ledger_items(self.root)]
        return sorted(set(_stores_of_manifests(self.manifest_keys())) | set(ledger))

    def manifest(self, key: str) -> dict[str, Any]:
        return json.loads((self.root / key).read_text())


class DeployedLake:
    """The deployed stack's bucket and state table, found through its outputs."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._bucket, table_name, served = stack_output_values(args, DATA_BUCKET, STATE_TABLE, STORE_IDS)
        self._configured = store_ids(served)
        self._s3 = client(args, "s3")
        self._ledger = TaskLedger(table(args, table_name), lambda: datetime.now(UTC))

    def manifest_keys(self) -> list[str]:
        return manifest_keys_in_s3(self._s3, self._bucket)

    def ledger_entries(self, series: list[Series]) -> list[LedgerEntry]:
        return [entry for one in series for entry in self._ledger.entries(one)]

    def known_stores(self) -> list[str]:
        """The stores the stack serves, and any other with a manifest in the bucket (a store
        removed from the configuration keeps its data): a configured store that never landed a
        day is read too, its every day missing."""
        return sorted(set(self._configured) | set(_stores_of_manifests(self.manifest_keys())))

    def manifest(self, key: str) -> dict[str, Any]:
        return json.loads(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())


def add_lake_arguments(parser: argparse.ArgumentParser, *, default_range: str, default_end: str = "today, UTC") -> None:
    """--lake-dir (else the deployed stack), --from/--to, --report-types and --json."""
    parser.add_argument(
        "--lake-dir",
        type=Path,
        help="a local lake directory (bwp-lake local-run's); without it, the deployed stack is read",
    )
    parser.add_argument("--from", dest="first", type=day_argument, help=f"first day (default: {default_range})")
    parser.add_argument("--to", dest="end", type=day_argument, help=f"day after the last (default: {default_end})")
    parser.add_argument("--report-types", help="comma-separated (default: all)")
    add_store_argument(parser, "only this store")
    parser.add_argument("--json", action="store_true", help="print one JSON line")


def day_argument(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD day") from None


def report_types_of(args: argparse.Namespace) -> list[str]:
    """The report types --report-types names (all when it is not given)."""
    if args.report_types is None:
        return list(REPORT_TYPES)
    report_types = [name.strip() for name in args.report_types.split(",") if name.strip()]
    unknown = [name for name in report_types if name not in REPORT_TYPES]
    if unknown:
        raise LakeArgumentError(f"unknown report type(s) {', '.join(unknown)}; known: {', '.join(REPORT_TYPES)}")
    if not report_types:
        raise LakeArgumentError(f"--report-types names no report type; known: {', '.join(REPORT_TYPES)}")
    return report_types


def series_of(args: argparse.Namespace, lake: LakeSource, report_types: list[str]) -> list[Series]:
    """Each store's report types: the stores --store names, else every store the lake knows
    (``default`` when it knows none)."""
    stores = list(dict.fromkeys(args.stores)) if args.stores else (lake.known_stores() or [DEFAULT_STORE_ID])
    return [Series(store, report_type) for store in stores for report_type in report_types]


def _stores_of_manifests(keys: list[str]) -> list[str]:
    return [partition.store for key in keys if (partition := Partition.of_manifest_key(key)) is not None]


def check_range(first: date, end: date) -> None:
    if first >= end:
        raise LakeArgumentError(f"--from {first} is not before {end}")


def lake_source(args: argparse.Namespace) -> LakeSource:
    return LocalLake(args.lake_dir) if args.lake_dir else DeployedLake(args)


# What reading a lake can fail with, for its commands to say in one line.
LAKE_ERRORS = (LakeArgumentError, StackNotUsable, OSError, ValueError)


def refused(error: Exception) -> int:
    """A lake command that cannot run: one line, exit 2."""
    print(f"error: {error}", file=sys.stderr)
    return 2


def print_json(first: date, end: date, **facts: Any) -> None:
    """A lake command's --json answer: one line, the range it covers and its facts."""
    print(json.dumps({"from": str(first), "to": str(end), **facts}))

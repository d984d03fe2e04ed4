"""``bwp-lake snapshots``: each curated table's snapshots, oldest first, with the days each replaced.

A commit of the curated tables is one snapshot per table (``bwp.iceberg.commit``); its summary
names every (store, day) it replaced with the landing's task id and the raw report's sha256, which
is how a person follows a row back to the report it came from, or finds when a day was restated
(then reads it as it was: the named query ``daily_fees_restated``, or ``FOR TIMESTAMP AS OF``).
Read from a local lake directory's catalog (``--lake-dir``) or the deployed stack's Glue database,
as ``bwp-lake gaps`` reads the manifests; ``--json`` prints the same as one line.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bwp.iceberg.commit import ReplacedDay, replaced_days
from bwp.iceberg.tables import table_name
from bwp.lake.stores import STORE_ID_PATTERN
from pyiceberg.table import Table

from bwp_lake.cli.deployed import StackNotUsable, add_stack_command, client, stack_output_values
from bwp_lake.cli.lake_state import LAKE_ERRORS, LakeArgumentError, refused, report_types_of
from bwp_lake.infra.outputs import DATA_BUCKET, DATABASE


@dataclass(frozen=True)
class SnapshotLine:
    """One snapshot of a table: when, what kind of commit, and the days it replaced."""

    snapshot_id: int
    committed_at: datetime
    operation: str
    current: bool
    replaced: tuple[ReplacedDay, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshotId": self.snapshot_id,
            "committedAt": self.committed_at.isoformat().replace("+00:00", "Z"),
            "operation": self.operation,
            "current": self.current,
            "replaced": [
                {"store": day.store, "day": str(day.day), "taskId": day.task_id, "rawSha256": day.raw_sha256}
                for day in self.replaced
            ],
        }

    def describe(self) -> list[str]:
        when = self.committed_at.strftime("%Y-%m-%d %H:%M:%SZ")
        head = f"  {self.snapshot_id}  {when}  {self.operation}, {len(self.replaced)} day(s) replaced"
        days = [f"    {day.store} {day.day}  task {day.task_id}  raw sha256 {day.raw_sha256}" for day in self.replaced]
        return [head + ("  (current)" if self.current else ""), *days]


def table_snapshots(table: Table, store: str | None = None) -> list[SnapshotLine]:
    """The table's snapshots, oldest first; with ``store``, only those that replaced its days,
    each with that store's days alone."""
    current = table.current_snapshot()
    lines = []
    for snapshot in sorted(table.snapshots(), key=lambda snapshot: snapshot.timestamp_ms):
        replaced = [day for day in replaced_days(snapshot) if store is None or day.store == store]
        if store is not None and not replaced:
            continue
        lines.append(
            SnapshotLine(
                snapshot_id=snapshot.snapshot_id,
                committed_at=datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC),
                operation=snapshot.summary.operation.value if snapshot.summary else "unknown",
                current=current is not None and snapshot.snapshot_id == current.snapshot_id,
                replaced=tuple(replaced),
            )
        )
    return lines


class LocalTables:
    """The curated tables of a lake directory (``bwp-lake local-run``'s), read from its files."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise FileNotFoundError(f"--lake-dir {root} is not a directory")
        from bwp_lake.local.lake_tables import LakeDirTables  # pyiceberg's SQL catalog: only for a lake directory

        self._tables = LakeDirTables(root)

    def table(self, report_type: str) -> Table | None:
        return self._tables.table(report_type)


class DeployedTables:
    """The curated tables in the deployed stack's Glue database, their files in its bucket."""

    def __init__(self, args: argparse.Namespace) -> None:
        from bwp.iceberg.catalog import glue_catalog

        bucket, database = stack_output_values(args, DATA_BUCKET, DATABASE)
        self._catalog = glue_catalog(client(args, "glue"), client(args, "s3"), database=database, bucket=bucket)

    def table(self, report_type: str) -> Table | None:
        from pyiceberg.exceptions import NoSuchTableError

        try:  # loaded, never created: a table appears with its first commit
            return self._catalog.catalog.load_table((self._catalog.namespace, table_name(report_type)))
        except NoSuchTableError:
            return None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "snapshots",
        run,
        help="list the curated tables' snapshots and the days each replaced",
        description="List each curated Iceberg table's snapshots, oldest first: id, commit time, operation, "
        "and the (store, day) each replaced with the landing's task id and the raw report's sha256.",
    )
    parser.add_argument(
        "--lake-dir",
        type=Path,
        help="a local lake directory (bwp-lake local-run's); without it, the deployed stack is read",
    )
    parser.add_argument("--store", help="only the snapshots that replaced days of this store, and only its days")
    parser.add_argument("--report-types", "--report-type", dest="report_types", help="comma-separated (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")


def run(args: argparse.Namespace) -> int:
    try:
        report_types = report_types_of(args)
        if args.store is not None and not re.fullmatch(STORE_ID_PATTERN, args.store):
            raise LakeArgumentError(f"--store {args.store!r} is not a store id (1-32 of a-z, 0-9 and '-')")
        tables = LocalTables(args.lake_dir) if args.lake_dir else DeployedTables(args)
        found = {report_type: tables.table(report_type) for report_type in report_types}
    except (*LAKE_ERRORS, StackNotUsable) as error:
        return refused(error)
    snapshots = {
        report_type: table_snapshots(table, args.store) if table is not None else []
        for report_type, table in found.items()
    }
    if args.json:
        listed = [
            {"reportType": report_type, "table": table_name(report_type), "snapshots": [s.as_json() for s in lines]}
            for report_type, lines in snapshots.items()
        ]
        print(json.dumps({"store": args.store, "tables": listed}))
        return 0
    for report_type, lines in snapshots.items():
        if found[report_type] is None:
            print(f"{table_name(report_type)}: no snapshot yet (created by its first commit)")
            continue
        print(
            f"{table_name(report_type)}: {len(lines)} snapshot(s)" + (f" of store {args.store}" if args.store else "")
        )
        for line in lines:
            print("\n".join(line.describe()))
    return 0

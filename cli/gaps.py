"""``bwp-lake gaps``: the (report type, day) partitions that are missing, and why, when a run said.

A day is landed when its manifest exists; the task ledger remembers the last failure of a day
that has not landed since. Against the local lake directory (``--lake-dir``) or the deployed
stack (its bucket and state table, found through its outputs).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bwp.contract import MANIFESTS_PREFIX
from bwp.coordination import LedgerEntry, TaskLedger
from bwp.gaps import Gap, failures_of, find_gaps, landed_days, manifest_keys_in_s3
from bwp.schemas import REPORT_TYPES

from cli.deployed import StackNotUsable, add_stack_command, client, stack_output_values, table
from infra.outputs import DATA_BUCKET, STATE_TABLE
from local.lake_dir import saved_ledger_items

DEFAULT_DAYS = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "gaps",
        run,
        help="list the partitions missing from the lake, and why",
        description="List (report type, day) partitions without a manifest; exits 1 when there are any.",
    )
    parser.add_argument("--lake-dir", type=Path, help="a local lake directory (bwp-lake local-run's); "
                        "without it, the deployed stack is read")
    parser.add_argument("--from", dest="first", type=day_argument, help=f"first day (default: {DEFAULT_DAYS} "
                        "days ago)")
    parser.add_argument("--to", dest="end", type=day_argument, help="day after the last (default: today, UTC)")
    parser.add_argument("--report-types", help="comma-separated (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")


def day_argument(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD day") from None


def run(args: argparse.Namespace) -> int:
    end = args.end or datetime.now(UTC).date()
    first = args.first or end - timedelta(days=DEFAULT_DAYS)
    report_types = [name.strip() for name in (args.report_types or ",".join(REPORT_TYPES)).split(",") if name.strip()]
    unknown = [name for name in report_types if name not in REPORT_TYPES]
    if unknown or first >= end:
        problem = f"unknown report type(s) {', '.join(unknown)}" if unknown else f"--from {first} is not before {end}"
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        gaps = local_gaps(args.lake_dir, report_types, first, end) if args.lake_dir else deployed_gaps(
            args, report_types, first, end
        )
    except (StackNotUsable, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({
            "from": str(first),
            "to": str(end),
            "missing": [
                {"reportType": g.report_type, "day": str(g.day), "failure": g.failure,
                 "quarantineKey": g.quarantine_key}
                for g in gaps
            ],
        }))
    else:
        for gap in gaps:
            print(gap.describe())
        print(f"{len(gaps)} partition(s) missing in [{first}, {end}) of {', '.join(report_types)}")
    return 1 if gaps else 0


def local_gaps(lake_dir: Path, report_types: list[str], first: date, end: date) -> list[Gap]:
    if not lake_dir.is_dir():
        raise FileNotFoundError(f"--lake-dir {lake_dir} is not a directory")
    keys = [path.relative_to(lake_dir).as_posix() for path in (lake_dir / MANIFESTS_PREFIX).rglob("*.json")]
    entries = [LedgerEntry.from_item(item) for item in saved_ledger_items(lake_dir)]
    return find_gaps(landed_days(keys), report_types, first, end, failures_of(entries))


def deployed_gaps(args: argparse.Namespace, report_types: list[str], first: date, end: date) -> list[Gap]:
    bucket, table_name = stack_output_values(args, DATA_BUCKET, STATE_TABLE)
    keys = manifest_keys_in_s3(client(args, "s3"), bucket, MANIFESTS_PREFIX)
    ledger = TaskLedger(table(args, table_name), lambda: datetime.now(UTC))
    entries = [entry for report_type in report_types for entry in ledger.entries(report_type)]
    return find_gaps(landed_days(keys), report_types, first, end, failures_of(entries))

"""``bwp-lake gaps``: the (store, report type, day) partitions that are missing, and why, when a run said.

A day is landed when its manifest exists; the task ledger remembers the last failure of a day
that has not landed since. Against the local lake directory (``--lake-dir``) or the deployed
stack (its bucket and state table, found through its outputs). Consecutive days missing for the
same reason print as one range, each naming its store; ``--json`` lists every day and counts per store.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bwp.gaps import Gap, failures_of, find_gaps, landed_days
from bwp.lake.partition import Series

from bwp_lake.cli.deployed import add_stack_command
from bwp_lake.cli.lake_state import (
    LAKE_ERRORS,
    LakeSource,
    add_lake_arguments,
    check_range,
    lake_source,
    print_json,
    refused,
    report_types_of,
    series_of,
)

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class GapRange:
    """Consecutive missing days of one store's report type, missing for the same reason."""

    store: str
    report_type: str
    first: date
    last: date
    failure: str | None
    quarantine_key: str | None = None  # a day whose report could not be curated: where it is kept

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def describe(self) -> str:
        span = str(self.first) if self.days == 1 else f"{self.first}..{self.last}"
        count = "" if self.days == 1 else f" ({self.days} days)"
        text = f"{self.store} {self.report_type} {span} " + (
            f"failed{count}: {self.failure}" if self.failure else f"missing{count}"
        )
        return text + (f" [report kept at {self.quarantine_key}]" if self.quarantine_key else "")


def gap_ranges(gaps: Iterable[Gap]) -> list[GapRange]:
    """The gaps, in their order, with each day that follows the day before it for the same
    store's report type and the same failure (or none) joined to its range."""
    ranges: list[GapRange] = []
    for gap in gaps:
        last = ranges[-1] if ranges else None
        if last and (
            last.store,
            last.report_type,
            last.failure,
            last.quarantine_key,
            last.last + timedelta(days=1),
        ) == (gap.store, gap.report_type, gap.failure, gap.quarantine_key, gap.day):
            ranges[-1] = GapRange(last.store, last.report_type, last.first, gap.day, last.failure, last.quarantine_key)
        else:
            ranges.append(GapRange(gap.store, gap.report_type, gap.day, gap.day, gap.failure, gap.quarantine_key))
    return ranges


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "gaps",
        run,
        help="list the partitions missing from the lake, and why",
        description="List each store's (report type, day) partitions without a manifest, consecutive days "
        "as one range; exits 1 when there are any.",
    )
    add_lake_arguments(parser, default_range=f"{DEFAULT_DAYS} days ago")


def run(args: argparse.Namespace) -> int:
    end = args.end or datetime.now(UTC).date()
    first = args.first or end - timedelta(days=DEFAULT_DAYS)
    try:
        report_types = report_types_of(args)
        check_range(first, end)
        lake = lake_source(args)
        series = series_of(args, lake, report_types)
        gaps = lake_gaps(lake, series, first, end)
    except LAKE_ERRORS as error:
        return refused(error)
    stores = list(dict.fromkeys(one.store for one in series))
    per_store = {store: sum(1 for gap in gaps if gap.store == store) for store in stores}
    if args.json:
        missing = [
            {
                "store": g.store,
                "reportType": g.report_type,
                "day": str(g.day),
                "failure": g.failure,
                "quarantineKey": g.quarantine_key,
            }
            for g in gaps
        ]
        print_json(first, end, stores=per_store, missing=missing)
    else:
        for gap_range in gap_ranges(gaps):
            print(gap_range.describe())
        counts = ", ".join(f"{store} {count}" for store, count in per_store.items())
        print(f"{len(gaps)} partition(s) missing in [{first}, {end}) of {', '.join(report_types)} ({counts})")
    return 1 if gaps else 0


def lake_gaps(lake: LakeSource, series: list[Series], first: date, end: date) -> list[Gap]:
    failures = failures_of(lake.ledger_entries(series))
    return find_gaps(landed_days(lake.manifest_keys()), series, first, end, failures)

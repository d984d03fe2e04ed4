"""``bwp-lake status``: per store and report type, which days landed (and their rows), failed or are
missing, as a calendar: one line a month, one cell a day, coloured by state on a terminal.

The facts are the manifests (landed, rows) and the task ledger (the last failure of a day not
landed since), read from a local lake directory or the deployed stack as ``bwp-lake gaps`` reads
them; ``--json`` prints the same facts as one line.
"""

from __future__ import annotations

import argparse
import calendar
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

from bwp.coordination import LedgerEntry
from bwp.gaps import Gap, failures_of, gap_of
from bwp.lake.partition import Partition, Series
from rich.console import Console
from rich.text import Text

from bwp_lake.cli.deployed import add_stack_command
from bwp_lake.cli.gaps import gap_ranges
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

DEFAULT_DAYS = 60
_CELL = 2  # characters per day in the calendar: the mark and a space
_MONTH_LABEL = 9  # "2024-08  "
_DAY_LABELS = (1, 5, 10, 15, 20, 25, 30)


class DayState(str, Enum):
    LANDED = "landed"
    FAILED = "failed"
    MISSING = "missing"

    @property
    def mark(self) -> str:
        return {"landed": "■", "failed": "✗", "missing": "□"}[self.value]

    @property
    def style(self) -> str:
        return {"landed": "green", "failed": "bold red", "missing": "yellow"}[self.value]


@dataclass(frozen=True)
class Day:
    day: date
    state: DayState
    rows: int | None = None  # landed days: the manifest's row count
    failure: str | None = None  # failed days: the ledger's last error and cause

    def as_json(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"day": str(self.day), "state": self.state.value}
        if self.state is DayState.LANDED:
            facts["rows"] = self.rows
        if self.failure:
            facts["failure"] = self.failure
        return facts


@dataclass(frozen=True)
class ReportStatus:
    series: Series
    days: list[Day]
    newest_day: date | None  # the newest landed day, in the range or not

    def count(self, state: DayState) -> int:
        return sum(1 for day in self.days if day.state is state)

    @property
    def rows(self) -> int:
        return sum(day.rows or 0 for day in self.days)

    def as_json(self) -> dict[str, Any]:
        return {
            "reportType": self.series.report_type,
            **{state.value: self.count(state) for state in DayState},
            "rows": self.rows,
            "newestDay": str(self.newest_day) if self.newest_day else None,
            "days": [day.as_json() for day in self.days],
        }


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "status",
        run,
        help="show per store and report type which days landed, failed or are missing, as a calendar",
        description="A calendar per store and report type of the days landed (with their rows), failed and "
        "missing, from a local lake directory or the deployed stack.",
    )
    add_lake_arguments(
        parser,
        default_range=f"{DEFAULT_DAYS} days before --to, or the oldest day the lake knows if later",
        default_end="today, UTC; for --lake-dir the day after the newest day the lake knows",
    )


def run(args: argparse.Namespace) -> int:
    try:
        report_types = report_types_of(args)
        lake = lake_source(args)
        series = series_of(args, lake, report_types)
        keys = _manifest_keys_by_day(lake.manifest_keys(), series)
        failures = failures_of(lake.ledger_entries(series))
        first, end = _day_range(args, set(keys) | set(failures))
        check_range(first, end)
        statuses = [_report_status(lake, one, keys, failures, first, end) for one in series]
    except LAKE_ERRORS as error:
        return refused(error)
    if args.json:
        print_json(first, end, stores=_stores_json(statuses), totals=_totals(statuses))
    else:
        _print_calendars(Console(highlight=False), statuses, first, end)
    return 0


def _totals(statuses: list[ReportStatus]) -> dict[str, int]:
    totals = {state.value: sum(status.count(state) for status in statuses) for state in DayState}
    totals["rows"] = sum(status.rows for status in statuses)
    return totals


def _stores_json(statuses: list[ReportStatus]) -> list[dict[str, Any]]:
    """Per store: its totals and its report types' days."""
    stores = list(dict.fromkeys(status.series.store for status in statuses))
    return [
        {
            "store": store,
            "totals": _totals([status for status in statuses if status.series.store == store]),
            "reportTypes": [status.as_json() for status in statuses if status.series.store == store],
        }
        for store in stores
    ]


def _manifest_keys_by_day(keys: list[str], series: list[Series]) -> dict[Partition, str]:
    found = {}
    for key in keys:
        partition = Partition.of_manifest_key(key)
        if partition is not None and partition.series in series:
            found[partition] = key
    return found


def _day_range(args: argparse.Namespace, known: set[Partition]) -> tuple[date, date]:
    """--from and --to, or the last DEFAULT_DAYS days, not starting before the oldest day the lake
    knows; a local lake ends after its newest day (it has no schedule that keeps it current)."""
    days = sorted(partition.day for partition in known)
    end = args.end
    if end is None:
        end = days[-1] + timedelta(days=1) if days and args.lake_dir else datetime.now(UTC).date()
    first = args.first
    if first is None:
        earlier = [day for day in days if day < end]
        first = max(end - timedelta(days=DEFAULT_DAYS), earlier[0]) if earlier else end - timedelta(days=DEFAULT_DAYS)
    return first, end


def _report_status(
    lake: LakeSource,
    series: Series,
    keys: dict[Partition, str],
    failures: dict[Partition, LedgerEntry],
    first: date,
    end: date,
) -> ReportStatus:
    days = []
    for offset in range((end - first).days):
        day = first + timedelta(days=offset)
        partition = series.on(day)
        key = keys.get(partition)
        if key is not None:
            days.append(Day(day, DayState.LANDED, rows=_rows(lake, key)))
        elif partition in failures:
            gap = gap_of(partition, failures[partition])
            kept = f" [report kept at {gap.quarantine_key}]" if gap.quarantine_key else ""
            days.append(Day(day, DayState.FAILED, failure=f"{gap.failure or 'not curated'}{kept}"))
        else:
            days.append(Day(day, DayState.MISSING))
    landed = [partition.day for partition in keys if partition.series == series]
    return ReportStatus(series, days, max(landed) if landed else None)


def _rows(lake: LakeSource, key: str) -> int | None:
    try:
        rows = lake.manifest(key).get("rows")
    except ValueError as error:
        raise ValueError(f"manifest {key} is not readable JSON ({error}): land its day again") from None
    return rows if isinstance(rows, int) else None


def _print_calendars(console: Console, statuses: list[ReportStatus], first: date, end: date) -> None:
    for status in statuses:
        console.print(_summary(status), soft_wrap=True)
        console.print(Text(_day_labels(), style="dim"), soft_wrap=True)
        for month in _months(first, end):
            console.print(_month_line(status, month), soft_wrap=True)
        failed = [
            Gap(status.series.store, status.series.report_type, day.day, day.failure)
            for day in status.days
            if day.failure
        ]
        for gap_range in gap_ranges(failed):
            console.print(Text(f"  {gap_range.describe()}", style=DayState.FAILED.style), soft_wrap=True)
        console.print()
    legend = Text()
    for state in DayState:
        legend.append(state.mark, style=state.style).append(f" {state.value}  ")
    legend.rstrip()
    console.print(legend, soft_wrap=True)
    totals = {state: sum(status.count(state) for status in statuses) for state in DayState}
    stores = len({status.series.store for status in statuses})
    report_types = len({status.series.report_type for status in statuses})
    console.print(
        f"{stores} store(s) x {report_types} report type(s) over [{first}, {end}): "
        + ", ".join(f"{totals[state]} {state.value}" for state in DayState)
        + f"; {sum(status.rows for status in statuses):,} rows",
        soft_wrap=True,
    )


def _summary(status: ReportStatus) -> Text:
    line = Text()
    line.append(str(status.series), style="bold")
    line.append(
        f"  {status.count(DayState.LANDED)} landed, {status.count(DayState.FAILED)} failed, "
        f"{status.count(DayState.MISSING)} missing of {len(status.days)} days; "
    )
    line.append(f"newest {status.newest_day}" if status.newest_day else "nothing landed yet")
    rows = [day.rows for day in status.days if day.rows is not None]
    if rows:
        line.append(
            f"; rows per landed day {min(rows):,}..{max(rows):,} "
            f"(median {statistics.median(rows):,.0f}), {sum(rows):,} in all"
        )
    return line


def _day_labels() -> str:
    labels = [" "] * (_CELL * 31)
    for number in _DAY_LABELS:
        text = str(number)
        position = (number - 1) * _CELL
        labels[position : position + len(text)] = text
    return " " * _MONTH_LABEL + "".join(labels).rstrip()


def _months(first: date, end: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month < end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _month_line(status: ReportStatus, month: date) -> Text:
    by_day = {day.day: day for day in status.days}
    line = Text(f"{month:%Y-%m}".ljust(_MONTH_LABEL))
    for number in range(1, calendar.monthrange(month.year, month.month)[1] + 1):
        found = by_day.get(month.replace(day=number))
        if found is None:
            line.append(" " * _CELL)  # outside --from/--to
        else:
            line.append(found.state.mark, style=found.state.style).append(" " * (_CELL - 1))
    line.rstrip()
    return line

"""The flags that describe one ingestion, shared by ``local-run`` and ``start``."""

from __future__ import annotations

import argparse
from typing import Any


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report-types", help="comma-separated, e.g. ORDER_FEES,USER_EVENTS (default: all)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (or a UTC timestamp, widened to whole days)")
    parser.add_argument("--end", help="day after the last, YYYY-MM-DD (exclusive)")
    parser.add_argument("--lookback-days", type=int, help="the last N complete UTC days")
    parser.add_argument("--max-concurrency", type=int, help="report tasks at once, 1-5 (default 5)")
    parser.add_argument("--backfill-from", help="also plan the days since this one (YYYY-MM-DD) that have no "
                        "manifest, oldest first")
    parser.add_argument("--max-backfill-windows", type=int, help="at most this many backfill windows a run "
                        "(with --backfill-from)")


def execution_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input these flags stand for; validating it is the workflow's job."""
    request: dict[str, Any] = {}
    if args.report_types:
        request["reportTypes"] = [name.strip() for name in args.report_types.split(",") if name.strip()]
    if args.start is not None:
        request["startDate"] = args.start
    if args.end is not None:
        request["endDate"] = args.end
    if args.lookback_days is not None:
        request["lookbackDays"] = args.lookback_days
    if args.max_concurrency is not None:
        request["maxConcurrency"] = args.max_concurrency
    if args.backfill_from is not None:
        request["backfillFrom"] = args.backfill_from
    if args.max_backfill_windows is not None:
        request["maxBackfillWindows"] = args.max_backfill_windows
    return request

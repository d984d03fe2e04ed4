"""The flags that describe one ingestion, shared by ``local-run`` and ``start``.

Both start one execution per store, as the schedule does (each store's execution succeeds or
fails on its own, named in its input): the stores ``--store`` names, else every configured one.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from bwp.errors import InvalidExecutionInput
from bwp.lake.schemas import REPORT_TYPES
from bwp.lake.stores import STORE_ID_RULE, StoreConfig, is_store_id
from bwp.windows import check_request, parse_request, stores_of

# The execution input's fields and the flags that set them, so that a refusal names the flag.
FLAG_OF_FIELD = {
    "stores": "--store",
    "reportTypes": "--report-types",
    "startDate": "--start",
    "endDate": "--end",
    "lookbackDays": "--lookback-days",
    "maxConcurrency": "--max-concurrency",
    "backfillFrom": "--backfill-from",
    "maxBackfillWindows": "--max-backfill-windows",
}
_FIELD_NAME = re.compile(r"\b(" + "|".join(FLAG_OF_FIELD) + r")\b")


def report_type_list(text: str) -> list[str]:
    """--report-types: at least one name, each a registry type (leaving the flag out means all)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"no report type named; name one or more of {','.join(REPORT_TYPES)}, or leave the flag out for all"
        )
    unknown = [name for name in names if name not in REPORT_TYPES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {','.join(unknown)}; known: {','.join(REPORT_TYPES)}")
    return names


def store_id(text: str) -> str:
    """--store: one store's id, as configured."""
    if not is_store_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a store id ({STORE_ID_RULE})")
    return text


def add_store_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--store",
        dest="stores",
        action="append",
        type=store_id,
        metavar="ID",
        help=f"{what} (repeat it for several; default: every store)",
    )


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_argument(parser, "ingest only this store, in an execution of its own")
    parser.add_argument(
        "--report-types",
        type=report_type_list,
        help="comma-separated, e.g. ORDER_FEES,USER_EVENTS (default: all)",
    )
    parser.add_argument("--start", help="first day, YYYY-MM-DD (or a UTC timestamp, widened to whole days)")
    parser.add_argument("--end", help="day after the last, YYYY-MM-DD (exclusive)")
    parser.add_argument("--lookback-days", type=int, help="the last N complete UTC days")
    parser.add_argument("--max-concurrency", type=int, help="report tasks at once, 1-5 (default 5)")
    parser.add_argument(
        "--backfill-from", help="also plan the days since this one (YYYY-MM-DD) that have no manifest, oldest first"
    )
    parser.add_argument(
        "--max-backfill-windows", type=int, help="at most this many backfill windows a run (with --backfill-from)"
    )


def execution_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input these flags stand for; validating it is the workflow's job."""
    values = {field: getattr(args, _dest(flag)) for field, flag in FLAG_OF_FIELD.items()}
    request = {field: value for field, value in values.items() if value is not None}
    if "stores" in request:
        request["stores"] = list(dict.fromkeys(request["stores"]))
    return request


def _dest(flag: str) -> str:
    return "stores" if flag == "--store" else flag.removeprefix("--").replace("-", "_")


def per_store(request: dict[str, Any], configured: Sequence[str] | None) -> list[dict[str, Any]]:
    """The executions that ``request`` stands for: one per store it names, else one per
    ``configured`` store, each naming its store; the request as it is when the stores are not
    known here (the execution then serves every configured store)."""
    stores = request.get("stores") or configured
    if not stores:
        return [request]
    return [{**request, "stores": [store]} for store in stores]


def refusal(
    request: dict[str, Any],
    projection_start: date,
    now: datetime | None = None,
    configured: Sequence[StoreConfig] | None = None,
) -> str | None:
    """Why *Plan windows* would refuse this input (its own validation, run here, in-process), as
    one line naming the flags to fix; None if it would accept it. With the ``configured`` stores,
    a store that is not one of them is refused too."""
    try:
        parsed = parse_request(request)
        check_request(parsed, now or datetime.now(UTC), projection_start)
        if configured is not None:
            stores_of(parsed, configured)
    except InvalidExecutionInput as error:
        flags = list(dict.fromkeys(FLAG_OF_FIELD[field] for field in _FIELD_NAME.findall(str(error))))
        fix = f" (fix {', '.join(flags)})" if flags else ""
        return f"{type(error).__name__}: {error}{fix}"
    return None

"""``bwp-lake local-run`` and ``bwp-lake demo``: the workflow on the local twin."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from bwp.errors import readable_cause

from bwp_lake.cli.execution_input import add_window_arguments, execution_input
from bwp_lake.cli.run_lines import outcome_verdict, plan_line, window_lines
from bwp_lake.definition import Step
from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.local.engine import DEFAULT_TIMEOUT_SECONDS, FUNCTION_STEPS, ApiEndpoint, ExecutionOutcome, LocalEngine
from bwp_lake.local.lake_state import LakeDirectoryInUse, StateFileUnreadable
from bwp_lake.local.lambda_runtime import Invocation

DEMO_ROWS_PER_DAY = 400
DEMO_GENERATION_SECONDS = 90.0
INTERRUPTED = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl-C


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("local-run", help="run one ingestion on the local twin (no AWS account needed)")
    add_window_arguments(run)
    run.add_argument("--faults", type=Path, metavar="FILE.json", help="emulator fault switches to set first")
    run.add_argument("--lake-dir", type=Path, default=Path("lake"), help="where landed files are copied")
    run.add_argument("--api-url", help="an API already running (base URL); credentials from BWP_CLIENT_ID, "
                     "BWP_CLIENT_SECRET, BWP_TARGET_ID")
    run.add_argument("--json", action="store_true", help="print one JSON summary line last")
    _add_emulator_arguments(run, rows_per_day=2000, generation_seconds=120.0)
    run.set_defaults(run=run_local)

    demo = subparsers.add_parser("demo", help="ingest the last seven days of both reports locally, then query them")
    demo.add_argument("--lake-dir", type=Path, default=Path("lake"))
    _add_emulator_arguments(demo, rows_per_day=DEMO_ROWS_PER_DAY, generation_seconds=DEMO_GENERATION_SECONDS)
    demo.set_defaults(run=run_demo)


def _add_emulator_arguments(parser: argparse.ArgumentParser, *, rows_per_day: int, generation_seconds: float) -> None:
    parser.add_argument("--seed", type=int, default=7, help="emulator data seed")
    parser.add_argument("--rows-per-day", type=int, default=rows_per_day)
    parser.add_argument("--generation-seconds", type=float, default=generation_seconds,
                        help="emulated report generation time per day (API time: waits cost no wall time)")


def run_local(args: argparse.Namespace) -> int:
    faults = _read_faults(args.faults) if args.faults else {}
    out = sys.stderr if args.json else sys.stdout
    with _ended_in_one_line(args.lake_dir), _api(args, faults) as (api, virtual_time):
        outcome = ingest(api, execution_input(args), args.lake_dir, out, virtual_time=virtual_time)
    if args.json:
        print(json.dumps(outcome_record(outcome, args.lake_dir)))
    return 0 if outcome.succeeded else 1


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    print("bwp-report-lake demo: the last 7 days of ORDER_FEES and USER_EVENTS, on the local twin\n")
    with _ended_in_one_line(args.lake_dir), _api(args, {}) as (api, virtual_time):
        outcome = ingest(api, {"lookbackDays": 7}, args.lake_dir, sys.stdout, virtual_time=virtual_time)
    if not outcome.succeeded:
        return 1
    show_queries(args.lake_dir, sys.stdout)
    print(f"\nDone in {time.monotonic() - started:.1f} s. The lake is in {args.lake_dir}/")
    return 0


def ingest(
    api: ApiEndpoint, request: dict[str, Any], lake_dir: Path, out: TextIO, *, virtual_time: bool
) -> ExecutionOutcome:
    progress = Progress(out)
    with LocalEngine(
        api,
        virtual_time=virtual_time,
        on_invocation=progress.show,
        lambda_log=lake_dir / "_logs" / "lambdas.jsonl",
        allowed_download_hosts=_allowed_hosts(api.base_url),
        lake_dir=lake_dir,
    ) as engine:
        print(f"API: {api.base_url}   input: {json.dumps(request)}", file=out)
        # On API time a run ends in seconds; against a real API it takes as long as the reports do.
        try:
            outcome = engine.run(request, timeout_seconds=DEFAULT_TIMEOUT_SECONDS if virtual_time else None)
        except TimeoutError as error:
            engine.export_lake()
            raise SystemExit(f"error: {error}; the windows that landed are in {lake_dir}/") from None
        engine.export_lake()
    print_outcome(outcome, out)
    return outcome


def print_outcome(outcome: ExecutionOutcome, out: TextIO) -> None:
    summary = outcome.summary
    print("", file=out)
    if summary:
        for line in window_lines(summary):
            print(line, file=out)
        print(
            f"\n{summary['landed']} of {summary['windows']} windows landed: {summary['rows']:,} rows, "
            f"{summary['bytesOut']:,} bytes gzip" + _api_time(outcome),
            file=out,
        )
        if summary["drifted"]:
            print(f"HEADER DRIFT (landed, check the manifests): {', '.join(summary['drifted'])}", file=out)
    print(f"Execution {outcome_verdict(outcome.status, outcome.error, outcome.cause)}", file=out)


def outcome_record(outcome: ExecutionOutcome, lake_dir: Path) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "error": outcome.error,
        "cause": readable_cause(outcome.cause) if outcome.cause else None,
        "executionArn": outcome.execution_arn,
        "lakeDir": str(lake_dir),
        "summary": outcome.summary,
    }


def show_queries(lake_dir: Path, out: TextIO) -> None:
    from bwp_lake import athena
    from bwp_lake.local.lake_sql import LakeSql, format_table

    with LakeSql(lake_dir) as lake:
        print("\nPartitions in the lake (from the manifests):", file=out)
        print(format_table(*lake.partitions()), file=out)
        for query in athena.named_queries():
            print(f"\n{query.name}: {query.description}", file=out)
            print(format_table(*lake.run_named(query.name), max_rows=12), file=out)


class Progress:
    """One line per step of each window, as the functions return."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def show(self, invocation: Invocation) -> None:
        line = describe(invocation)
        if line:
            with self._lock:
                print(line, file=self._out, flush=True)


def describe(invocation: Invocation) -> str | None:
    event, result = invocation.event, invocation.result
    window = event.get("window") or {}
    where = f"{window.get('reportType', ''):<12} {window.get('day', ''):<10}"
    step = FUNCTION_STEPS.get(invocation.function)
    if invocation.error_type:
        message = (invocation.error_message or "")[:160]
        if step == Step.PLAN_WINDOWS:
            return f"input refused: {invocation.error_type}: {message}"
        if invocation.error_type == "TaskSlotsBusy":
            return f"{where}  waiting     for a report task slot: {message}"
        return f"{where}  {invocation.error_type}: {message}"
    match step:
        case Step.PLAN_WINDOWS:
            return plan_line(result)
        case Step.START_REPORT if result.get("adopted"):
            return f"{where}  adopted     {result['taskId']} ({result['status']}, started by an earlier run)"
        case Step.START_REPORT:
            return f"{where}  started     {result['taskId']} (attempt {event['attempt']})"
        case Step.CHECK_REPORT:
            waiting = f", next check in {result['waitSeconds']} s" if result["status"] != "COMPLETED" else ""
            return f"{where}  {result['status']:<11} poll {result['polls']}{waiting}"
        case Step.LAND_REPORT:
            drift = "  HEADER DRIFT" if result.get("drift") else ""
            return f"{where}  landed      {result['rows']:,} rows, {result['bytesOut']:,} bytes{drift}"
    return None


@contextmanager
def _ended_in_one_line(lake_dir: Path) -> Iterator[None]:
    """A run that cannot use its lake directory, or is interrupted, says so in one line, without a
    traceback."""
    try:
        yield
    except (LakeDirectoryInUse, StateFileUnreadable) as error:
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        # Each window that landed and each ledger write reached the lake directory as it happened.
        print(f"interrupted: the windows that landed and the ledger are saved in {lake_dir}/; "
              "run again to resume", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None


@contextmanager
def _api(args: argparse.Namespace, faults: dict[str, Any]) -> Iterator[tuple[ApiEndpoint, bool]]:
    """The emulator, started here, or the API at ``--api-url`` (waits then take real time)."""
    if getattr(args, "api_url", None):
        if faults:
            raise SystemExit("--faults sets the emulator's fault switches; it cannot be used with --api-url")
        yield _external_api(args.api_url), False
        return
    config = EmulatorConfig(
        seed=args.seed, rows_per_day=args.rows_per_day, generation_seconds=args.generation_seconds
    )
    with Emulator(config) as emulator:
        if faults:
            try:
                emulator.set_faults(**faults)
            except (TypeError, ValueError) as error:
                raise SystemExit(f"--faults: {error}") from None
        credentials = emulator.credentials
        yield ApiEndpoint(
            emulator.base_url, credentials["clientId"], credentials["clientSecret"], credentials["targetId"]
        ), True


def _external_api(base_url: str) -> ApiEndpoint:
    names = ("BWP_CLIENT_ID", "BWP_CLIENT_SECRET", "BWP_TARGET_ID")
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise SystemExit(f"--api-url needs the credentials in {', '.join(missing)}")
    return ApiEndpoint(base_url, *(os.environ[name] for name in names))


def _allowed_hosts(base_url: str) -> str:
    api_host = urlsplit(base_url).hostname or "127.0.0.1"
    return ",".join(dict.fromkeys([api_host, "127.0.0.1", "localhost", "*.amazonaws.com"]))


def _read_faults(path: Path) -> dict[str, Any]:
    try:
        faults = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"--faults {path}: {error}") from None
    if not isinstance(faults, dict):
        raise SystemExit(f"--faults {path}: expected a JSON object of fault switches")
    return faults


def _api_time(outcome: ExecutionOutcome) -> str:
    if outcome.api_seconds_elapsed is None:
        return ""
    return f"; {_duration(outcome.api_seconds_elapsed)} of API time went by"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"

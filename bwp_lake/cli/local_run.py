"""``bwp-lake local-run`` and ``bwp-lake demo``: the workflow on the local twin."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from bwp.errors import readable_cause
from rich.console import Console

from bwp_lake.cli.execution_input import add_window_arguments, execution_input, refusal
from bwp_lake.cli.progress import ProgressDisplay, duration
from bwp_lake.cli.run_lines import window_lines
from bwp_lake.cli.run_progress import FailedStep, RunProgress
from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.infra.config import DEFAULTS

if TYPE_CHECKING:
    from bwp_lake.local.engine import ApiEndpoint, ExecutionOutcome

API_URL_VARIABLE = "BWP_API_URL"
CREDENTIAL_VARIABLES = ("BWP_CLIENT_ID", "BWP_CLIENT_SECRET", "BWP_TARGET_ID")
DEMO_INPUT = {"lookbackDays": 7}
DEFAULTS_PROJECTION_START = date.fromisoformat(DEFAULTS["projectionStartDate"])
DEMO_ROWS_PER_DAY = 400
DEMO_GENERATION_SECONDS = 90.0
INTERRUPTED = 130  # 128 + SIGINT, as shells report a process stopped by Ctrl-C


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("local-run", help="run one ingestion on the local twin (no AWS account needed)")
    add_window_arguments(run)
    run.add_argument("--faults", type=Path, metavar="FILE.json", help="emulator fault switches to set first")
    run.add_argument("--lake-dir", type=Path, default=Path("lake"), help="where landed files are copied")
    run.add_argument(
        "--api-url",
        help="an API already running (base URL; default: $BWP_API_URL, else an emulator "
        "started for the run); credentials from BWP_CLIENT_ID, BWP_CLIENT_SECRET, BWP_TARGET_ID",
    )
    run.add_argument("--json", action="store_true", help="print one JSON summary line last (progress on stderr)")
    _add_emulator_arguments(run, rows_per_day=2000, generation_seconds=120.0)
    run.set_defaults(run=run_local)

    demo = subparsers.add_parser("demo", help="ingest the last seven days of both reports locally, then query them")
    demo.add_argument("--lake-dir", type=Path, default=Path("lake"))
    _add_emulator_arguments(demo, rows_per_day=DEMO_ROWS_PER_DAY, generation_seconds=DEMO_GENERATION_SECONDS)
    demo.set_defaults(run=run_demo)


def _add_emulator_arguments(parser: argparse.ArgumentParser, *, rows_per_day: int, generation_seconds: float) -> None:
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="a line for every step of every window as it returns, instead of the counter",
    )
    parser.add_argument("--seed", type=int, default=7, help="emulator data seed")
    parser.add_argument("--rows-per-day", type=int, default=rows_per_day)
    parser.add_argument(
        "--generation-seconds",
        type=float,
        default=generation_seconds,
        help="emulated report generation time per day (API time: waits cost no wall time)",
    )


def run_local(args: argparse.Namespace) -> int:
    faults = _read_faults(args.faults) if args.faults else {}
    out = sys.stderr if args.json else sys.stdout
    request = execution_input(args)
    # Plan windows' own validation, here, before the emulator and moto start: a refusal takes
    # no time and is said once.
    refused = refusal(request, DEFAULTS_PROJECTION_START)
    if refused:
        print(f"input refused: {refused}", file=sys.stderr)
        if args.json:
            error, _, cause = refused.partition(": ")
            print(json.dumps(refused_record(error, cause, args.lake_dir)))
        return 1
    with _ended_in_one_line(args.lake_dir), _api(args, faults) as (api, source, virtual_time):
        outcome, progress = ingest(
            api, source, request, args.lake_dir, out, virtual_time=virtual_time, verbose=args.verbose
        )
    if args.json:
        print(json.dumps(outcome_record(outcome, args.lake_dir, progress.failed_step)))
    return 0 if outcome.succeeded else 1


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    print("bwp-report-lake demo: the last 7 days of ORDER_FEES and USER_EVENTS, on the local twin\n")
    with _ended_in_one_line(args.lake_dir), _api(args, {}) as (api, source, virtual_time):
        outcome, _ = ingest(
            api, source, DEMO_INPUT, args.lake_dir, sys.stdout, virtual_time=virtual_time, verbose=args.verbose
        )
    if not outcome.succeeded:
        return 1
    show_queries(args.lake_dir, sys.stdout)
    print(f"\nDone in {time.monotonic() - started:.1f} s. The lake is in {args.lake_dir}/")
    return 0


def ingest(
    api: ApiEndpoint,
    source: str,
    request: dict[str, Any],
    lake_dir: Path,
    out: TextIO,
    *,
    virtual_time: bool,
    verbose: bool = False,
    console: Console | None = None,
) -> tuple[ExecutionOutcome, RunProgress]:
    # moto's engine takes seconds to import: only once the input has been checked.
    from bwp_lake.local.engine import DEFAULT_TIMEOUT_SECONDS, LocalEngine

    console = console or Console(file=out)
    display = ProgressDisplay(console, lambda: progress.elapsed())
    progress = RunProgress(display, api=api.base_url, api_time=virtual_time, verbose=verbose)
    try:
        with LocalEngine(
            api,
            virtual_time=virtual_time,
            on_invocation=progress.invoked,
            on_window_end=progress.window_ended,
            lambda_log=lake_dir / "_logs" / "lambdas.jsonl",
            allowed_download_hosts=_allowed_hosts(api.base_url),
            lake_dir=lake_dir,
        ) as engine:
            # Once the engine holds the lake directory: a run refused for it prints only that.
            timing = "API time: waits cost no wall time" if virtual_time else "waits take real time"
            print(f"API: {api.base_url} ({source}; {timing})   input: {json.dumps(request)}", file=out, flush=True)
            progress.begin(engine.api_now)
            # On API time a run ends in seconds; against a real API it takes as long as the reports do.
            try:
                outcome = engine.run(request, timeout_seconds=DEFAULT_TIMEOUT_SECONDS if virtual_time else None)
            except TimeoutError as error:
                engine.export_lake()
                raise SystemExit(f"error: {error}; the windows that landed are in {lake_dir}/") from None
            engine.export_lake()
    finally:
        display.close()
    print_outcome(outcome, progress, out)
    return outcome, progress


def print_outcome(outcome: ExecutionOutcome, progress: RunProgress, out: TextIO) -> None:
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
    print(progress.outcome_line(outcome), file=out)


def outcome_record(outcome: ExecutionOutcome, lake_dir: Path, failed_step: FailedStep | None) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "error": outcome.error,
        "cause": readable_cause(outcome.cause) if outcome.cause else None,
        "executionArn": outcome.execution_arn,
        "lakeDir": str(lake_dir),
        "summary": outcome.summary,
        "failedStep": failed_step.record() if failed_step else None,
    }


def refused_record(error: str, cause: str, lake_dir: Path) -> dict[str, Any]:
    """The --json record of an input refused before anything ran: no execution, no summary."""
    return {
        "status": "FAILED",
        "error": error,
        "cause": cause,
        "executionArn": None,
        "lakeDir": str(lake_dir),
        "summary": None,
        "failedStep": None,
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


@contextmanager
def _ended_in_one_line(lake_dir: Path) -> Iterator[None]:
    """A run that cannot use its lake directory, or is interrupted, says so in one line, without a
    traceback."""
    from bwp_lake.local.lake_state import LakeDirectoryInUse, StateFileUnreadable

    try:
        yield
    except (LakeDirectoryInUse, StateFileUnreadable) as error:
        raise SystemExit(f"error: {error}") from None
    except KeyboardInterrupt:
        # Each window that landed and each ledger write reached the lake directory as it happened.
        print(
            f"interrupted: the windows that landed and the ledger are saved in {lake_dir}/; run again to resume",
            file=sys.stderr,
        )
        raise SystemExit(INTERRUPTED) from None


@contextmanager
def _api(args: argparse.Namespace, faults: dict[str, Any]) -> Iterator[tuple[ApiEndpoint, str, bool]]:
    """The API at ``--api-url`` or ``BWP_API_URL`` (waits then take real time), else the
    emulator, started here; with where it came from."""
    from bwp_lake.local.engine import ApiEndpoint

    api_url, source = _api_url(args)
    if api_url:
        if faults:
            raise SystemExit(
                f"--faults sets the fault switches of an emulator started here; the API comes from "
                f"{source}: leave --faults out, or unset BWP_API_URL and leave --api-url out"
            )
        yield _external_api(api_url, source), source, False
        return
    config = EmulatorConfig(seed=args.seed, rows_per_day=args.rows_per_day, generation_seconds=args.generation_seconds)
    with Emulator(config) as emulator:
        if faults:
            try:
                emulator.set_faults(**faults)
            except (TypeError, ValueError) as error:
                raise SystemExit(f"--faults: {error}") from None
        credentials = emulator.credentials
        yield (
            ApiEndpoint(
                emulator.base_url, credentials["clientId"], credentials["clientSecret"], credentials["targetId"]
            ),
            "the emulator, started for this run",
            True,
        )


def _api_url(args: argparse.Namespace) -> tuple[str | None, str]:
    """``--api-url``, else ``BWP_API_URL`` (as ``bwp-lake emulator`` suggests exporting); demo
    always starts its own emulator."""
    if not hasattr(args, "api_url"):
        return None, ""
    if args.api_url:
        return args.api_url, "--api-url"
    return os.environ.get(API_URL_VARIABLE) or None, API_URL_VARIABLE


def _external_api(base_url: str, source: str) -> ApiEndpoint:
    from bwp_lake.local.engine import ApiEndpoint

    missing = [name for name in CREDENTIAL_VARIABLES if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"the API from {source} needs its credentials in {', '.join(missing)} (`bwp-lake emulator` prints them)"
        )
    return ApiEndpoint(base_url, *(os.environ[name] for name in CREDENTIAL_VARIABLES))


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
    return f"; {duration(outcome.api_seconds_elapsed)} of API time went by"

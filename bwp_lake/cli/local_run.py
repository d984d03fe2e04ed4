"""``bwp-lake local-run`` and ``bwp-lake demo``: the workflow on the local twin.

Each store gets an execution of its own, as the schedule starts them, and they run together:
the progress names each window's store, and the end says per store what landed and what failed.
"""

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
from bwp.lake.stores import DEFAULT_STORE_ID
from rich.console import Console

from bwp_lake.cli.execution_input import add_window_arguments, execution_input, per_store, refusal
from bwp_lake.cli.progress import ProgressDisplay, duration
from bwp_lake.cli.run_lines import window_lines
from bwp_lake.cli.run_progress import RunProgress
from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.emulator.config import MAX_STORES, derived_merchants
from bwp_lake.infra.config import DEFAULTS
from bwp_lake.local.api_endpoint import ApiEndpoint, stores_serving

if TYPE_CHECKING:
    from bwp_lake.local.api_endpoint import StoreCredentials
    from bwp_lake.local.engine import ExecutionOutcome

API_URL_VARIABLE = "BWP_API_URL"
CREDENTIAL_VARIABLES = ("BWP_CLIENT_ID", "BWP_CLIENT_SECRET", "BWP_TARGET_ID")
DEMO_INPUT = {"lookbackDays": 7}
DEFAULTS_PROJECTION_START = date.fromisoformat(DEFAULTS["projectionStartDate"])
DEMO_ROWS_PER_DAY = 200
DEMO_GENERATION_SECONDS = 90.0
DEMO_STORES = 2
# Each store's share of the lake: its rows are its own merchant's, under its own store= prefix.
LANDED_PER_STORE_SQL = """
SELECT store, report_type, count(*) AS days, sum("rows") AS "rows",
       CAST(min("day") AS VARCHAR) AS first_day, CAST(max("day") AS VARCHAR) AS last_day
FROM manifests
GROUP BY store, report_type
ORDER BY store, report_type
"""
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
    _add_emulator_arguments(run, rows_per_day=2000, generation_seconds=120.0, stores=1)
    run.set_defaults(run=run_local)

    demo = subparsers.add_parser(
        "demo", help="ingest the last seven days of both reports of two stores locally, then query them"
    )
    demo.add_argument("--lake-dir", type=Path, default=Path("lake"))
    _add_emulator_arguments(
        demo, rows_per_day=DEMO_ROWS_PER_DAY, generation_seconds=DEMO_GENERATION_SECONDS, stores=DEMO_STORES
    )
    demo.set_defaults(run=run_demo)


def store_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of stores") from None
    if not 1 <= count <= MAX_STORES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_STORES}, got {count}")
    return count


def _add_emulator_arguments(
    parser: argparse.ArgumentParser, *, rows_per_day: int, generation_seconds: float, stores: int
) -> None:
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
    parser.add_argument(
        "--stores",
        dest="store_count",
        type=store_count,
        default=stores,
        metavar="N",
        help=f"stores the emulator serves, store-1..store-N, each its own merchant (default {stores}; "
        f"one store is called {DEFAULT_STORE_ID})",
    )


def run_local(args: argparse.Namespace) -> int:
    faults = _read_faults(args.faults) if args.faults else {}
    out = sys.stderr if args.json else sys.stdout
    request = execution_input(args)
    stores = _stores(args)
    # Plan windows' own validation, here, before the emulator and moto start: a refusal takes
    # no time and is said once.
    refused = refusal(request, DEFAULTS_PROJECTION_START, configured=[store.config for store in stores])
    if refused:
        print(f"input refused: {refused}", file=sys.stderr)
        if args.json:
            error, _, cause = refused.partition(": ")
            print(json.dumps(refused_record(error, cause, args.lake_dir)))
        return 1
    requests = per_store(request, [store.store for store in stores])
    with _ended_in_one_line(args.lake_dir), _api(args, faults, stores) as (api, source, virtual_time):
        outcomes, progress = ingest(
            api, source, requests, args.lake_dir, out, virtual_time=virtual_time, verbose=args.verbose
        )
    if args.json:
        print(json.dumps(run_record(outcomes, args.lake_dir, progress)))
    return 0 if all(outcome.succeeded for outcome in outcomes) else 1


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    stores = _stores(args)
    print(
        f"bwp-report-lake demo: the last 7 days of ORDER_FEES and USER_EVENTS of {len(stores)} store(s) "
        f"({', '.join(store.store for store in stores)}), on the local twin\n"
    )
    requests = per_store(DEMO_INPUT, [store.store for store in stores])
    with _ended_in_one_line(args.lake_dir), _api(args, {}, stores) as (api, source, virtual_time):
        outcomes, _ = ingest(
            api, source, requests, args.lake_dir, sys.stdout, virtual_time=virtual_time, verbose=args.verbose
        )
    if not all(outcome.succeeded for outcome in outcomes):
        return 1
    show_queries(args.lake_dir, sys.stdout)
    print(f"\nDone in {time.monotonic() - started:.1f} s. The lake is in {args.lake_dir}/")
    return 0


def ingest(
    api: ApiEndpoint,
    source: str,
    requests: list[dict[str, Any]],
    lake_dir: Path,
    out: TextIO,
    *,
    virtual_time: bool,
    verbose: bool = False,
    console: Console | None = None,
) -> tuple[list[ExecutionOutcome], RunProgress]:
    """Run the executions ``requests`` stand for (one per store) together, showing their progress,
    then say per store what landed and what failed."""
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
            inputs = "   ".join(f"input: {json.dumps(request)}" for request in requests)
            print(f"API: {api.base_url} ({source}; {timing})   {inputs}", file=out, flush=True)
            progress.begin(engine.api_now)
            # On API time a run ends in seconds; against a real API it takes as long as the reports do.
            try:
                outcomes = engine.run_together(
                    requests, timeout_seconds=DEFAULT_TIMEOUT_SECONDS if virtual_time else None
                )
            except TimeoutError as error:
                engine.export_lake()
                raise SystemExit(f"error: {error}; the windows that landed are in {lake_dir}/") from None
            engine.export_lake()
    finally:
        display.close()
    print_outcomes(outcomes, progress, out)
    return outcomes, progress


def print_outcomes(outcomes: list[ExecutionOutcome], progress: RunProgress, out: TextIO) -> None:
    """Every window's line, then per store what landed and how its execution ended; the last line
    names the stores that failed, if any."""
    print("", file=out)
    for outcome in outcomes:
        for line in window_lines(outcome.summary or {}):
            print(line, file=out)
    print("", file=out)
    api_time = _api_time(outcomes[0]) if outcomes else ""
    verdict = stores_verdict(outcomes, progress)
    for outcome in outcomes:
        summary, store = outcome.summary, progress.store_of(outcome)
        if summary:
            failed = f" ({summary['failed']} failed)" if summary["failed"] else ""
            print(
                f"{store}: {summary['landed']} of {summary['windows']} windows landed{failed}: "
                f"{summary['rows']:,} rows, {summary['bytesOut']:,} bytes gzip" + ("" if verdict else api_time),
                file=out,
            )
            if summary["drifted"]:
                print(f"{store}: HEADER DRIFT (landed, check the manifests): {', '.join(summary['drifted'])}", file=out)
    for outcome in outcomes:
        print(f"{progress.store_of(outcome)}: {progress.outcome_line(outcome)}", file=out)
    if verdict:
        print(verdict + api_time, file=out)


def stores_verdict(outcomes: list[ExecutionOutcome], progress: RunProgress) -> str | None:
    """One line on the stores of a run of several: which failed (and why, in a word), or that all
    succeeded; None for a run of one store, whose outcome line says it all."""
    if len(outcomes) < 2:
        return None
    failed = [outcome for outcome in outcomes if not outcome.succeeded]
    if not failed:
        return f"all {len(outcomes)} stores succeeded"
    named = ", ".join(f"{progress.store_of(outcome)} ({outcome.error or outcome.status})" for outcome in failed)
    healthy = [progress.store_of(outcome) for outcome in outcomes if outcome.succeeded]
    return f"{len(failed)} of {len(outcomes)} stores failed: {named}" + (
        f"; {', '.join(healthy)} succeeded" if healthy else ""
    )


def run_record(outcomes: list[ExecutionOutcome], lake_dir: Path, progress: RunProgress) -> dict[str, Any]:
    """The --json record of a run: its status (FAILED if any store's execution failed), the
    stores that failed, and each store's execution."""
    executions = [execution_record(outcome, progress) for outcome in outcomes]
    failed = [execution for execution in executions if execution["status"] != "SUCCEEDED"]
    return {
        "status": "FAILED" if failed else "SUCCEEDED",
        "error": failed[0]["error"] if len(failed) == 1 else ("StoresFailed" if failed else None),
        "cause": "; ".join(f"{e['store']}: {e['cause'] or e['status']}" for e in failed) or None,
        "failedStores": [execution["store"] for execution in failed],
        "lakeDir": str(lake_dir),
        "executions": executions,
    }


def execution_record(outcome: ExecutionOutcome, progress: RunProgress) -> dict[str, Any]:
    failed_step = progress.failed_step_of(outcome)
    return {
        "store": progress.store_of(outcome),
        "status": outcome.status,
        "error": outcome.error,
        "cause": readable_cause(outcome.cause) if outcome.cause else None,
        "executionArn": outcome.execution_arn,
        "summary": outcome.summary,
        "failedStep": failed_step.record() if failed_step else None,
    }


def refused_record(error: str, cause: str, lake_dir: Path) -> dict[str, Any]:
    """The --json record of an input refused before anything ran: no execution, no summary."""
    return {
        "status": "FAILED",
        "error": error,
        "cause": cause,
        "failedStores": [],
        "lakeDir": str(lake_dir),
        "executions": [],
    }


def show_queries(lake_dir: Path, out: TextIO) -> None:
    from bwp_lake import athena
    from bwp_lake.local.lake_sql import LakeSql, format_table

    with LakeSql(lake_dir) as lake:
        print("\nWhat each store landed (from the manifests):", file=out)
        print(format_table(*lake.query(LANDED_PER_STORE_SQL)), file=out)
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


def _stores(args: argparse.Namespace) -> tuple[StoreCredentials, ...]:
    """The stores the run serves: the emulator's merchants (``--stores``), or the one store whose
    credentials the environment holds for ``--api-url``/``BWP_API_URL``."""
    api_url, source = _api_url(args)
    if api_url:
        if args.store_count != 1:
            raise SystemExit(
                f"--stores sets how many stores an emulator started here serves; the API comes from {source}, "
                "whose one store's credentials are in BWP_CLIENT_ID, BWP_CLIENT_SECRET, BWP_TARGET_ID: "
                "leave --stores out"
            )
        return stores_serving([_credentials_from_environment(source)])
    return stores_serving([merchant.credentials for merchant in _emulator_config(args).merchants])


def _emulator_config(args: argparse.Namespace) -> EmulatorConfig:
    sizes = {"rows_per_day": args.rows_per_day, "generation_seconds": args.generation_seconds}
    if args.store_count == 1:
        return EmulatorConfig(seed=args.seed, **sizes)
    return EmulatorConfig(merchants=derived_merchants(args.store_count, args.seed), **sizes)


@contextmanager
def _api(
    args: argparse.Namespace, faults: dict[str, Any], stores: tuple[StoreCredentials, ...]
) -> Iterator[tuple[ApiEndpoint, str, bool]]:
    """The API at ``--api-url`` or ``BWP_API_URL`` (waits then take real time), else the
    emulator, started here; with where it came from."""
    api_url, source = _api_url(args)
    if api_url:
        if faults:
            raise SystemExit(
                f"--faults sets the fault switches of an emulator started here; the API comes from "
                f"{source}: leave --faults out, or unset BWP_API_URL and leave --api-url out"
            )
        yield ApiEndpoint(api_url, stores), source, False
        return
    with Emulator(_emulator_config(args)) as emulator:
        if faults:
            try:
                emulator.set_faults(**faults)
            except (TypeError, ValueError) as error:
                raise SystemExit(f"--faults: {error}") from None
        yield ApiEndpoint(emulator.base_url, stores), "the emulator, started for this run", True


def _api_url(args: argparse.Namespace) -> tuple[str | None, str]:
    """``--api-url``, else ``BWP_API_URL`` (as ``bwp-lake emulator`` suggests exporting); demo
    always starts its own emulator."""
    if not hasattr(args, "api_url"):
        return None, ""
    if args.api_url:
        return args.api_url, "--api-url"
    return os.environ.get(API_URL_VARIABLE) or None, API_URL_VARIABLE


def _credentials_from_environment(source: str) -> dict[str, str]:
    missing = [name for name in CREDENTIAL_VARIABLES if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"the API from {source} needs its credentials in {', '.join(missing)} (`bwp-lake emulator` prints them)"
        )
    client_id, client_secret, target_id = (os.environ[name] for name in CREDENTIAL_VARIABLES)
    return {"clientId": client_id, "clientSecret": client_secret, "targetId": target_id}


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

"""Backfill benchmark: a month of both report types (60 windows) on the local engine, against
the emulator with report generation times of minutes, at each Map concurrency asked for.

The real ASL runs on moto's Step Functions engine with the handlers in-process and waits on the
emulator's clock (API time), as ``bwp-lake local-run`` does. Three things are added around the
engine at run time, without changing it:

- each task's generation time is drawn per (report type, day) around its type's typical time,
  reproducibly; a recent week lands first, so that the waits have history to plan from;
- every history moto records is kept, the Distributed Map's child executions' included (moto
  drops those once the Map ends), to count state transitions as Step Functions bills them;
- each handler call is timed, for the Lambda GB-seconds at the memory the stack configures.

From the emulator's task list: how busy the API's five slots were (requested -> completed, in
API time, over the run's API-time duration); from the manifests: the polls and the time from a
report's completion to its landing's start.

Then the same backfill for several stores at once (one execution per store, run together, as
the schedule starts them; each store its own merchant with its own five slots): each store's slot
utilization, the failed windows and the cost per window beside the one-store run's; and the same
stores with one store's credentials wrong, whose healthy stores' windows must all land in the
time they take without it.

    python -m benchmarks.backfill                     # 30 days x 2 report types, concurrency 5 then 2, 3 stores
    python -m benchmarks.backfill --days 10 --concurrency 5 --stores 3
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock

from bwp.lake.contract import API_CONCURRENT_TASKS, MANIFESTS_PREFIX
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import distributed_iteration_component
from moto.stepfunctions.parser.asl.eval import environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

from benchmarks.common import machine
from benchmarks.workflow_metrics import (
    Interval,
    cost_usd,
    gb_seconds,
    polling_overhead_share,
    slot_utilization,
    state_transitions,
)
from bwp_lake.emulator import Emulator, EmulatorConfig, tasks
from bwp_lake.emulator.clock import parse_instant
from bwp_lake.emulator.config import derived_merchants
from bwp_lake.local import engine as local_engine
from bwp_lake.local.api_endpoint import ApiEndpoint, StoreCredentials, stores_serving
from bwp_lake.local.engine import BUCKET, LocalEngine

REPORT_TYPES = ("ORDER_FEES", "USER_EVENTS")
FIRST_DAY = date(2024, 7, 1)
# Each report type's typical generation time, and how far one day strays from it: the API's
# times are not published; "30+ minutes" is reported for large ranges, and one day is smaller.
GENERATION_MINUTES = {"ORDER_FEES": 5.0, "USER_EVENTS": 9.0}
GENERATION_SPREAD = (0.8, 1.25)
HISTORY_DAYS = 7
ROWS_PER_DAY = 2000
SEED = 7
RUN_TIMEOUT_SECONDS = 600


# --- around the engine ---------------------------------------------------------------------
def generation_seconds(report_type: str, day: date) -> float:
    """A day's generation time: the same for the same (report type, day) in every run."""
    low, high = GENERATION_SPREAD
    spread = low + (high - low) * random.Random(f"{report_type}/{day.isoformat()}").random()
    return 60 * GENERATION_MINUTES[report_type] * spread


@contextmanager
def generation_per_window() -> Iterator[None]:
    """The emulator's tasks take :func:`generation_seconds` per day of their range, instead of
    one time for every report type and day."""
    task = tasks.Task

    def timed_task(**fields: Any) -> tasks.Task:
        days = (fields["end"] - fields["start"]) / timedelta(days=1)
        seconds = generation_seconds(fields["report_type"], fields["start"].date()) * days
        return task(**fields | {"generation": timedelta(seconds=seconds)})

    with mock.patch.object(tasks, "Task", timed_task):
        yield


@contextmanager
def recorded_histories() -> Iterator[list[EventManager]]:
    """Every event manager moto creates while this is active: the executions' and the map runs'."""
    managers: list[EventManager] = []

    class RecordingEventManager(EventManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            managers.append(self)

    with (
        mock.patch.object(environment, "EventManager", RecordingEventManager),
        mock.patch.object(distributed_iteration_component, "EventManager", RecordingEventManager),
    ):
        yield managers


@contextmanager
def timed_handlers() -> Iterator[list[tuple[str, float]]]:
    """(step, seconds) of every handler call of the engines started while this is active."""
    calls: list[tuple[str, float]] = []
    load_handler = local_engine.load_handler

    def load_timed(step: str):
        handler = load_handler(step)

        def timed(event: dict, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                calls.append((step, time.perf_counter() - started))

        return timed

    with mock.patch.object(local_engine, "load_handler", load_timed):
        yield calls


# --- one backfill --------------------------------------------------------------------------
def run_backfill(
    days: int, concurrency: int, memory_mb: dict[str, int], stores: int = 1, broken: int = 0
) -> dict[str, Any]:
    """One backfill of ``days`` of both report types for each of ``stores`` stores (one execution
    per store, run together), the last ``broken`` of them with a wrong client secret."""
    request = {
        "reportTypes": list(REPORT_TYPES),
        "startDate": FIRST_DAY.isoformat(),
        "endDate": (FIRST_DAY + timedelta(days=days)).isoformat(),
        "maxConcurrency": concurrency,
    }
    # The lake's recent week, landed first as the nightly schedule would have: the waits of the
    # measured backfill are planned from its manifests' generation times.
    recent_week = {
        "reportTypes": list(REPORT_TYPES),
        "startDate": (FIRST_DAY + timedelta(days=days)).isoformat(),
        "endDate": (FIRST_DAY + timedelta(days=days + HISTORY_DAYS)).isoformat(),
    }
    started = time.perf_counter()
    with ExitStack() as stack:
        histories = stack.enter_context(recorded_histories())
        calls = stack.enter_context(timed_handlers())
        stack.enter_context(generation_per_window())
        merchants = {"merchants": derived_merchants(stores, SEED)} if stores > 1 else {"seed": SEED}
        api = stack.enter_context(Emulator(EmulatorConfig(rows_per_day=ROWS_PER_DAY, **merchants)))
        served = stores_serving(api.all_credentials)
        healthy, refused = served[: stores - broken], [_with_wrong_secret(store) for store in served[stores - broken :]]
        engine = stack.enter_context(LocalEngine(ApiEndpoint(api.base_url, (*healthy, *refused))))
        history = engine.run_together(_per_store(recent_week, healthy), timeout_seconds=RUN_TIMEOUT_SECONDS)
        if not all(outcome.succeeded for outcome in history):
            raise RuntimeError(f"the recent week did not land: {[outcome.cause for outcome in history]}")
        tasks_before = len(api.state()["tasks"])
        histories.clear()
        calls.clear()
        started = time.perf_counter()
        outcomes = engine.run_together(_per_store(request, served), timeout_seconds=RUN_TIMEOUT_SECONDS)
        ended_at = api.now()
        api_state = api.state()
        api_state["tasks"] = api_state["tasks"][tasks_before:]
        backfilled = {(FIRST_DAY + timedelta(days=n)).isoformat() for n in range(days)}
        manifests = [manifest for manifest in _manifests(engine) if manifest["day"] in backfilled]
    wall_seconds = time.perf_counter() - started
    # moto's event types are enums whose values are the names Step Functions gives them.
    event_types = Counter(event["type"].value for manager in histories for event in manager.get_event_history())
    # The windows the healthy stores asked for: the broken store's are refused before they cost a task.
    windows = len(REPORT_TYPES) * days * len(healthy)
    landed = {
        outcome_store: (outcome.summary or {}).get("landed", 0)
        for outcome_store, outcome in zip((store.store for store in served), outcomes, strict=True)
    }
    in_progress = [_in_progress(task, ended_at) for task in api_state["tasks"]]
    api_seconds = outcomes[0].api_seconds_elapsed
    transitions = state_transitions(event_types)
    lambda_gb_seconds = gb_seconds((memory_mb[step], seconds) for step, seconds in calls)
    overheads = [
        polling_overhead_share(
            parse_instant(timings["completedAt"]),
            parse_instant(timings["landingStartedAt"]),
            timings["generationSeconds"],
        )
        for timings in (manifest["timings"] for manifest in manifests)
    ]
    by_step: dict[str, list[float]] = {}
    for step, seconds in calls:
        by_step.setdefault(step, []).append(seconds)
    per_store = {
        store.store: {
            "landed": landed[store.store],
            "slot_utilization": slot_utilization(
                [
                    interval
                    for interval, task in zip(in_progress, api_state["tasks"], strict=True)
                    if task["targetId"] == store.target_id
                ],
                concurrency,
                api_seconds,
            ),
        }
        for store in healthy
    }
    return {
        "max_concurrency": concurrency,
        "stores": stores,
        "broken_stores": broken,
        "per_store": per_store,
        "windows": windows,
        "status": "SUCCEEDED" if all(outcome.succeeded for outcome in outcomes) else "FAILED",
        "failed_windows": windows - sum(landed[store.store] for store in healthy),
        "wall_seconds": round(wall_seconds, 1),
        "api_seconds": round(api_seconds, 1),
        "tasks": len(api_state["tasks"]),
        "max_tasks_in_progress": max(merchant["maxConcurrentInProgress"] for merchant in api_state["merchants"]),
        "task_seconds": round(sum(interval.seconds for interval in in_progress), 1),
        "slot_utilization": slot_utilization(in_progress, concurrency, api_seconds),
        "api_slot_utilization": slot_utilization(in_progress, API_CONCURRENT_TASKS, api_seconds),
        "generation_seconds_mean": statistics.mean(m["timings"]["generationSeconds"] for m in manifests),
        "polling_overhead_share": statistics.mean(overheads),
        "polling_overhead_share_max": max(overheads),
        "polls_per_window": statistics.mean(manifest["timings"]["polls"] for manifest in manifests),
        "state_transitions": transitions,
        "state_transitions_per_window": transitions / windows,
        "history_events": sum(event_types.values()),
        "invocations": len(calls),
        "invocations_by_step": {step: len(seconds) for step, seconds in sorted(by_step.items())},
        "handler_seconds_by_step": {step: round(sum(seconds), 3) for step, seconds in sorted(by_step.items())},
        "lambda_gb_seconds": lambda_gb_seconds,
        "cost_per_window_usd": cost_usd(transitions, lambda_gb_seconds, len(calls)) / windows,
        "transitions_usd_per_window": cost_usd(transitions, 0, 0) / windows,
        "lambda_usd_per_window": cost_usd(0, lambda_gb_seconds, len(calls)) / windows,
    }


def _per_store(request: dict[str, Any], stores: tuple[StoreCredentials, ...] | list[StoreCredentials]) -> list[dict]:
    """One execution per store, as the schedule starts them."""
    return [{**request, "stores": [store.store]} for store in stores]


def _with_wrong_secret(store: StoreCredentials) -> StoreCredentials:
    return StoreCredentials(store.store, store.client_id, "not-the-secret", store.target_id)


def stores_runs(days: int, stores: int, memory_mb: dict[str, int], one_store: dict[str, Any]) -> dict[str, Any]:
    """``stores`` stores backfilled side by side; then the same with the last one's credentials
    wrong, against the healthy ones alone: each compared as the targets ask."""
    together = run_backfill(days, API_CONCURRENT_TASKS, memory_mb, stores=stores)
    with_broken = run_backfill(days, API_CONCURRENT_TASKS, memory_mb, stores=stores, broken=1)
    healthy_alone = run_backfill(days, API_CONCURRENT_TASKS, memory_mb, stores=stores - 1)
    return {
        "together": together,
        "with_broken": with_broken,
        "healthy_alone": healthy_alone,
        "min_store_slot_utilization": min(store["slot_utilization"] for store in together["per_store"].values()),
        "cost_per_window_vs_one_store": together["cost_per_window_usd"] / one_store["cost_per_window_usd"],
        # API time is the twin's measure of how long executions take in AWS; wall time here is
        # the local machine's CPU, shared by every store's functions in one process.
        "healthy_api_time_with_broken_store": with_broken["api_seconds"] / healthy_alone["api_seconds"],
        "healthy_wall_time_with_broken_store": with_broken["wall_seconds"] / healthy_alone["wall_seconds"],
    }


def stores_table(result: dict[str, Any], days: int) -> list[str]:
    together, broken, alone = result["together"], result["with_broken"], result["healthy_alone"]
    lines = [
        f"{together['stores']} stores x {len(REPORT_TYPES)} report types x {days} days, one execution per store, "
        "run together (maxConcurrency 5 each; each store its own merchant and five slots)",
        "",
        "| run | windows | failed | API time min | wall s | slot utilization per store | USD/window |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, run in (
        (f"{together['stores']} stores", together),
        (f"{broken['stores']} stores, 1 with wrong credentials", broken),
        (f"the {alone['stores']} healthy stores alone", alone),
    ):
        utilization = ", ".join(f"{store} {facts['slot_utilization']:.2f}" for store, facts in run["per_store"].items())
        lines.append(
            f"| {name} | {run['windows']} | {run['failed_windows']} | {run['api_seconds'] / 60:.0f} "
            f"| {run['wall_seconds']:.0f} | {utilization} | {run['cost_per_window_usd']:.6f} |"
        )
    lines += [
        "",
        f"cost per window vs one store: x{result['cost_per_window_vs_one_store']:.3f}; healthy stores' time with "
        f"the broken store vs without: API time x{result['healthy_api_time_with_broken_store']:.3f}, "
        f"wall time x{result['healthy_wall_time_with_broken_store']:.3f}",
    ]
    return lines


def _in_progress(task: dict[str, Any], ended_at: datetime) -> Interval:
    """requested -> completed (or failed); a task still in progress at the end counts until then."""
    requested = parse_instant(task["requestTime"])
    if task["status"] in ("STARTED", "RUNNING"):
        return Interval(requested, ended_at)
    return Interval(requested, parse_instant(task["lastUpdatedTime"]))


def _manifests(engine: LocalEngine) -> list[dict[str, Any]]:
    pages = engine.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=MANIFESTS_PREFIX)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return [json.loads(engine.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in keys]


# --- the command ---------------------------------------------------------------------------
def table(runs: list[dict[str, Any]], days: int, info: dict[str, str]) -> list[str]:
    low, high = GENERATION_SPREAD
    typical = ", ".join(f"{report_type} {minutes:g} min" for report_type, minutes in GENERATION_MINUTES.items())
    lines = [
        f"{days} days x {len(REPORT_TYPES)} report types ({FIRST_DAY} on), {ROWS_PER_DAY:,} rows per day, "
        f"generation {typical}, each day x{low:g} to x{high:g}, after a recent week landed as history; "
        "local engine on API time; "
        f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}",
        "",
        "| max concurrency | windows | failed | API time min | wall s | tasks | most in progress "
        "| slot utilization | of 5 slots | polling overhead (max) | polls/window | transitions/window "
        "| Lambda GB-s | USD/window |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run['max_concurrency']} | {run['windows']} | {run['failed_windows']} "
            f"| {run['api_seconds'] / 60:.0f} | {run['wall_seconds']:.0f} | {run['tasks']} "
            f"| {run['max_tasks_in_progress']} | {run['slot_utilization']:.2f} | {run['api_slot_utilization']:.2f} "
            f"| {run['polling_overhead_share']:.0%} ({run['polling_overhead_share_max']:.0%}) "
            f"| {run['polls_per_window']:.1f} | {run['state_transitions_per_window']:.1f} "
            f"| {run['lambda_gb_seconds']:.1f} | {run['cost_per_window_usd']:.6f} |"
        )
    return lines


def configured_memory_mb() -> dict[str, int]:
    """Each step's memory as the stack configures it."""
    from bwp_lake.infra.workflow import STEPS

    return {step: profile.memory_mb for step, profile in STEPS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of each report type (default 30)")
    parser.add_argument(
        "--concurrency", default="5,2", help="the Map's maxConcurrency, one backfill each (default 5,2)"
    )
    parser.add_argument(
        "--stores", type=int, default=3, help="stores backfilled side by side, at concurrency 5 (default 3; 1: none)"
    )
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",")]
    if args.days < 1 or not all(1 <= level <= API_CONCURRENT_TASKS for level in levels):
        parser.error(f"--days must be positive, --concurrency between 1 and {API_CONCURRENT_TASKS}")
    info = machine()
    print("machine: " + ", ".join(f"{name} {value}" for name, value in info.items()), flush=True)
    memory_mb = configured_memory_mb()
    runs = []
    for concurrency in levels:
        run = run_backfill(args.days, concurrency, memory_mb)
        print(
            f"  concurrency {concurrency}: {run['status']}, {run['api_seconds'] / 60:.0f} API minutes "
            f"in {run['wall_seconds']:.0f} s",
            flush=True,
        )
        runs.append(run)
    stores = None
    if args.stores > 1:
        one_store = next((run for run in runs if run["max_concurrency"] == API_CONCURRENT_TASKS), None)
        one_store = one_store or run_backfill(args.days, API_CONCURRENT_TASKS, memory_mb)
        stores = stores_runs(args.days, args.stores, memory_mb, one_store)
        print(f"  {args.stores} stores: done", flush=True)
    print()
    for line in table(runs, args.days, info):
        print(line)
    if stores:
        print()
        for line in stores_table(stores, args.days):
            print(line)
    print(json.dumps({"memory_mb": memory_mb, "runs": runs, "stores": stores}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

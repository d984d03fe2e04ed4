"""The Map always reaches Summarize: a window whose child execution fails in a way no Catch
covers is still recorded, and no state's payload grows with the number of windows."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from unittest import mock

import boto3
from bwp import runs, windows
from bwp.clock import utc_now
from bwp.coordination import TaskLedger
from bwp.lake.partition import Partition
from bwp.lake.stores import DEFAULT_STORE_ID
from bwp.models import ReportProgress, Window, WindowLanded
from bwp.states import check_report, land_report, start_report

from bwp_lake.local.engine import REGION
from tests.twin import assert_landed

PAYLOAD_BUDGET = 64 * 1024  # a quarter of Step Functions' 256 KiB


class AnswersWithoutWait:
    """Start report as a function deployed from another version might answer for one window:
    without ``waitSeconds``. The Wait state cannot follow it (States.Runtime), and a Wait has no
    Catch: the window's child execution fails uncaught."""

    def __init__(self, report_type: str, day: str) -> None:
        self.target = (report_type, day)
        self.real = start_report.start_report

    def __call__(self, client, table, settings, clock, event):
        progress = self.real(client, table, settings, clock, event)
        if (event.window.report_type, str(event.window.day)) != self.target:
            return progress
        answer = {name: value for name, value in progress.to_wire().items() if name != "waitSeconds"}
        return mock.Mock(to_wire=lambda: answer)


def test_a_window_whose_child_fails_uncaught_is_summarized_and_remembered(engine_for):
    # given two days of both report types, and one window whose child execution dies uncaught
    engine = engine_for()
    first_day = (utc_now().date() - timedelta(days=2)).isoformat()
    broken = AnswersWithoutWait("ORDER_FEES", first_day)
    # when the run goes through
    with mock.patch.object(start_report, "start_report", broken):
        outcome = engine.run({"lookbackDays": 2})
    # then Summarize ran and counted the window as failed, with the error the engine gave its child
    assert outcome.summary is not None, (outcome.error, outcome.cause)
    assert (outcome.summary["windows"], outcome.summary["landed"], outcome.summary["failed"]) == (4, 3, 1)
    (line,) = [line for line in outcome.summary["lines"] if "FAILED" in line]
    assert line.startswith(f"default ORDER_FEES {first_day}: FAILED after 1 attempt(s): States.Runtime: ")
    assert "waitSeconds" in line
    # and the execution fails, naming the window
    assert (outcome.status, outcome.error) == ("FAILED", "WindowsFailed")
    assert f"default ORDER_FEES {first_day} (States.Runtime" in outcome.cause
    # and the ledger remembers why the day is missing, for `bwp-lake gaps`
    entry = TaskLedger(engine.state_table, utc_now).find(
        Partition(DEFAULT_STORE_ID, "ORDER_FEES", date.fromisoformat(first_day))
    )
    assert entry.last_error == "States.Runtime"
    # and the other windows landed
    second_day = (utc_now().date() - timedelta(days=1)).isoformat()
    for report_type, day in (("USER_EVENTS", first_day), ("ORDER_FEES", second_day), ("USER_EVENTS", second_day)):
        assert_landed(engine, report_type, day)


WINDOWS = 8_000


class PlansManyWindows:
    """Plan windows as planned, then 8,000 windows: 2 report types x 4,000 days."""

    def __init__(self) -> None:
        self.real = windows.plan_windows

    def __call__(self, request, requested, stores, **lake):
        planned = self.real(request, requested, stores, **lake)
        first = date(2010, 1, 1)
        windows = [
            Window(
                store=DEFAULT_STORE_ID,
                report_type=report_type,
                day=day,
                start_date=f"{day}T00:00:00Z",
                end_date=f"{day}T00:00:00Z",
            )
            for day in (first + timedelta(days=n) for n in range(WINDOWS // 2))
            for report_type in ("ORDER_FEES", "USER_EVENTS")
        ]
        return planned.model_copy(update={"windows": windows})


@contextmanager
def lands_instantly() -> Iterator[None]:
    """8,000 windows planned, and the window steps answering at once without the API: ready,
    then landed (nothing written)."""

    def start(client, table, settings, clock, event):
        return ReportProgress(task_id="t", report_type=event.window.report_type, status="COMPLETED", wait_seconds=0)

    def check(client, table, settings, clock, event):
        return event.report

    def land(*, event, **clients):
        window = event.window
        return WindowLanded(
            store=window.store, report_type=window.report_type, day=window.day, rows=1, bytes_out=1, attempts=1
        )

    replaced = [
        (windows, "plan_windows", PlansManyWindows()),
        (start_report, "start_report", start),
        (check_report, "check_report", check),
        (land_report, "land_report", land),
    ]
    with ExitStack() as stack:
        for module, name, replacement in replaced:
            stack.enter_context(mock.patch.object(module, name, replacement))
        yield


def payloads(history, invocations) -> dict[str, int]:
    """Every state's input and output in the execution's history, and every function's input
    and output (the states of the windows' child executions), in bytes."""
    sizes = {}
    for event in history:
        for name, details in event.items():
            if name.endswith("EventDetails") and isinstance(details, dict):
                for part in ("input", "output"):
                    if part in details:
                        sizes[f"#{event['id']} {event['type']} {part}"] = len(details[part].encode())
    for n, invocation in enumerate(invocations):
        sizes[f"{invocation.function} call {n} input"] = len(json.dumps(invocation.event).encode())
        sizes[f"{invocation.function} call {n} output"] = len(json.dumps(invocation.result).encode())
    return sizes


def test_eight_thousand_windows_keep_every_payload_small(engine_for):
    # given a plan of 8,000 windows whose steps answer at once
    engine = engine_for()
    with lands_instantly():
        # when the run has planned and the Map has run windows from the plan (running all 8,000 on
        # moto would take minutes: it is stopped there)
        execution_arn = engine.start({"lookbackDays": 1})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        while len(engine.invocations("bwp-land-report")) < 10:
            assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
            time.sleep(0.05)
        sfn.stop_execution(executionArn=execution_arn, error="Test", cause="stopped after the Map started")
        history = [
            event
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for event in page["events"]
        ]
    # then the plan object holds the 8,000 windows, and the Map read its windows from it
    (plan_exit,) = [e for e in history if (e.get("stateExitedEventDetails") or {}).get("name") == "Plan windows"]
    plan = json.loads(plan_exit["stateExitedEventDetails"]["output"])
    assert plan["windows"] == WINDOWS
    planned = [window.day for window in runs.read_plan(engine.s3, runs.ObjectLocation.model_validate(plan["plan"]))]
    assert len(planned) == WINDOWS
    landed_days = {invocation.event["window"]["day"] for invocation in engine.invocations("bwp-land-report")}
    assert landed_days <= {str(day) for day in planned[:100]}
    # and no state's input or output comes near the limit
    sizes = payloads(history, engine.invocations())
    largest = max(sizes, key=sizes.get)
    print(f"largest payload of {len(sizes)}: {largest}, {sizes[largest]} bytes")
    assert sizes[largest] < PAYLOAD_BUDGET, largest

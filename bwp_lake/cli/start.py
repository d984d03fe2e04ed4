"""``bwp-lake start``: start an ingestion on the deployed stack and, with ``--wait``, follow it,
printing each window's result as it finishes.

With ``--store``, one execution per store named; without it, one per store the stack serves (its
``StoreIds`` output): as the schedule starts them, so that each store's run succeeds or fails on
its own."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from bwp import runs
from bwp.errors import readable_cause
from bwp.models import ObjectLocation
from rich.console import Console

from bwp_lake.cli.deployed import StackNotUsable, add_stack_command, client, stack_output_values, store_ids
from bwp_lake.cli.execution_input import add_window_arguments, execution_input, per_store
from bwp_lake.cli.progress import ProgressDisplay, WindowCounts, duration
from bwp_lake.cli.run_lines import (
    FailedStep,
    Retries,
    is_input_refusal,
    outcome_verdict,
    plan_line,
    short,
    window_lines,
)
from bwp_lake.infra.outputs import STATE_MACHINE_ARN, STORE_IDS

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# States of statemachine/ingest_reports.asl.json whose exits are reported. Each window runs in
# a child execution of the Distributed Map: the parent shows the plan, the windows' progress
# (the map run's counts) and, at the end, the summary's one line per window.
PLAN_STATE = "Plan windows"
SUMMARY_STATE = "Summarize the run"


class FollowTimedOut(Exception):
    """The execution was still running when --timeout-minutes ran out; it goes on in AWS."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "start",
        run,
        help="start an ingestion on the deployed stack (found by its outputs)",
        description="Start an execution of the deployed state machine; with --wait, follow it to the end.",
    )
    add_window_arguments(parser)
    parser.add_argument("--wait", action="store_true", help="follow the execution, print each window's result")
    parser.add_argument(
        "--verbose", action="store_true", help="with --wait, a line each time the windows' counts change"
    )
    parser.add_argument(
        "--poll-seconds", type=positive_seconds, default=15.0, help="between looks at the execution (default 15)"
    )
    parser.add_argument(
        "--timeout-minutes", type=float, default=24 * 60, help="stop following (not the execution) after this"
    )


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if seconds < 1:
        raise argparse.ArgumentTypeError("must be at least 1 second: each look is an API call")
    return seconds


def run(args: argparse.Namespace) -> int:
    try:
        state_machine_arn, served = stack_output_values(args, STATE_MACHINE_ARN, STORE_IDS)
    except StackNotUsable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configured = store_ids(served)
    asked = execution_input(args)
    if unknown := [store for store in asked.get("stores", []) if store not in configured]:
        print(
            f"error: --store {', '.join(unknown)}: not a store of stack {args.stack_name} "
            f"(it serves {', '.join(configured)}); add it to cdk.json's stores and `make deploy`",
            file=sys.stderr,
        )
        return 2
    stepfunctions = client(args, "stepfunctions")
    s3 = client(args, "s3")
    executions = []
    for request in per_store(asked, configured):
        execution_arn = start(stepfunctions, state_machine_arn, request)
        print(f"started {execution_arn} with {json.dumps(request)}", flush=True)
        executions.append((", ".join(request.get("stores", [])), execution_arn))
    if not args.wait:
        return 0
    started = time.monotonic()
    display = ProgressDisplay(Console(file=sys.stdout), lambda: f"{duration(time.monotonic() - started)} elapsed")
    statuses = {}
    try:
        # They run side by side in AWS; followed one after the other here, each line naming its store.
        for store, execution_arn in executions:
            emit = (lambda line, store=store: display.line(f"{store}: {line}")) if len(executions) > 1 else display.line
            statuses[store] = follow(
                stepfunctions,
                execution_arn,
                emit,
                read_report=report_reader(s3),
                poll_seconds=args.poll_seconds,
                timeout_seconds=args.timeout_minutes * 60,
                counts=(lambda counts: display.line(counts.text())) if args.verbose else display.update,
            )
    except FollowTimedOut as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        display.close()
    failed = [store for store, status in statuses.items() if status != "SUCCEEDED"]
    if len(executions) > 1:
        print(
            f"{len(failed)} of {len(executions)} stores failed: {', '.join(failed)}"
            if failed
            else f"all {len(executions)} stores succeeded"
        )
    return 1 if failed else 0


def start(stepfunctions: Any, state_machine_arn: str, request: dict[str, Any]) -> str:
    # A readable, unique name: who started it and when, as the console lists it.
    name = f"cli-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    started = stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(request))
    return started["executionArn"]


def follow(
    stepfunctions: Any,
    execution_arn: str,
    emit: Callable[[str], None],
    *,
    read_report: Callable[[dict[str, Any]], dict[str, Any]],
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    counts: Callable[[WindowCounts], None] = lambda counts: None,
) -> str:
    """Print the plan, each retry of a step of the whole run, the outcome and each window's
    result; tell ``counts`` the windows' counts as they change. Return the final status."""
    deadline = clock() + timeout_seconds
    last_seen = 0
    last_counts = None
    map_started = False
    steps = WholeRunSteps()
    while True:
        # Status first: once it is terminal, the history read after it is complete.
        description = stepfunctions.describe_execution(executionArn=execution_arn)
        for event in new_events(stepfunctions, execution_arn, after=last_seen):
            last_seen = event["id"]
            map_started = map_started or event["type"] == "MapRunStarted"
            for line in steps.lines(event) + describe_event(event, read_report):
                emit(line)
        # There is no map run to ask about before the Map state has started one.
        progress = window_progress(stepfunctions, execution_arn) if map_started else None
        if progress and progress != last_counts:
            counts(progress)
            last_counts = progress
        if description["status"] in TERMINAL:
            emit(describe_outcome(description, steps.failed_step))
            return description["status"]
        if clock() >= deadline:
            raise FollowTimedOut(
                f"{execution_arn} is still {description['status']} after {timeout_seconds / 60:g} minutes; "
                "it goes on in AWS: follow it in the Step Functions console"
            )
        sleep(poll_seconds)


def window_progress(stepfunctions: Any, execution_arn: str) -> WindowCounts | None:
    """How many windows are done and running, from the Distributed Map's map run (which counts
    a window whose failure was recorded as a child that succeeded: landed and failed are told
    apart only by the summary)."""
    runs = stepfunctions.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if not runs:
        return None
    counts = stepfunctions.describe_map_run(mapRunArn=runs[-1]["mapRunArn"])["itemCounts"]
    done = sum(counts.get(ended, 0) for ended in ("succeeded", "failed", "timedOut", "aborted"))
    return WindowCounts(total=counts.get("total", 0), done=done, in_progress=counts.get("running", 0))


class WholeRunSteps:
    """The retries of the steps that run once for the whole execution (*Plan windows*,
    *Summarize the run*), read from its history: each retry as a line, and the step that gave up."""

    def __init__(self) -> None:
        self._retries = Retries()
        self._state: str | None = None
        self._first_failure: datetime | None = None
        self.failed_step: FailedStep | None = None

    def lines(self, event: dict[str, Any]) -> list[str]:
        if event["type"] == "TaskStateEntered":
            self._state = (event.get("stateEnteredEventDetails") or {}).get("name")
        elif event["type"] == "LambdaFunctionSucceeded" and self._state:
            self._retries.succeeded(self._state)
            self._first_failure = None
        elif event["type"] == "LambdaFunctionFailed" and self._state:
            details = event.get("lambdaFunctionFailedEventDetails") or {}
            error, message = details.get("error", ""), short(readable_cause(details.get("cause")))
            retry = self._retries.failed(self._state, self._state, error)
            first = self._first_failure = self._first_failure or event.get("timestamp")
            if retry is not None:
                return [f"{self._state}: {error}: {message}; {retry.text()}"]
            if not is_input_refusal(error):
                took = (event["timestamp"] - first).total_seconds() if first and event.get("timestamp") else 0.0
                self.failed_step = FailedStep(
                    self._state, error, message, self._retries.retried(self._state), duration(took)
                )
        return []


def new_events(stepfunctions: Any, execution_arn: str, *, after: int) -> list[dict[str, Any]]:
    """History events with an id above ``after``, oldest first.

    Read newest first, so that each look costs only the events since the last one, not the
    whole history (up to 25,000 events); sorting by id also copes with a service that ignores
    the order asked for.
    """
    events: list[dict[str, Any]] = []
    for page in _history_pages(stepfunctions, execution_arn):
        events.extend(event for event in page["events"] if event["id"] > after)
        if any(event["id"] <= after for event in page["events"]):
            break
    return sorted(events, key=lambda event: event["id"])


def _history_pages(stepfunctions: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**request)
        yield page
        if not page.get("nextToken"):
            return
        request["nextToken"] = page["nextToken"]


def report_reader(s3: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Reads the summary's report, one line per window, from where the summary's output says."""
    return lambda location: runs.read_report(s3, ObjectLocation.model_validate(location)).to_wire()


def describe_event(event: dict[str, Any], read_report: Callable[[dict[str, Any]], dict[str, Any]]) -> list[str]:
    """Lines for the plan and the summary; nothing for the other events. The summary's output
    says where its report is, with one line per window; ``read_report`` reads it."""
    details = event.get("stateExitedEventDetails") or {}
    if details.get("name") not in (PLAN_STATE, SUMMARY_STATE) or "output" not in details:
        return []
    output = json.loads(details["output"])
    if details["name"] == PLAN_STATE:
        return [plan_line(output)]
    location = output.get("report") or {}
    try:
        return window_lines(read_report(location))
    except (BotoCoreError, ClientError, ValueError) as error:
        # The failed windows the output names are still worth printing.
        where = f"s3://{location.get('bucket')}/{location.get('key')}"
        return [f"  (every window's line is in {where}, which could not be read: {error})"] + window_lines(
            {"lines": output.get("failures", [])}
        )


def describe_outcome(description: dict[str, Any], failed_step: FailedStep | None = None) -> str:
    status = description["status"]
    if status == "SUCCEEDED":
        output = json.loads(description.get("output") or "{}")
        return f"SUCCEEDED: {output.get('message', 'done')}"
    if failed_step is not None and failed_step.error == description.get("error"):
        return f"{status}: {failed_step.text()}"
    return outcome_verdict(status, description.get("error"), description.get("cause"))

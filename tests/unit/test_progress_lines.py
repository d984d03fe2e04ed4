"""What `local-run` and `demo` print as the functions return: the plan, retries said as retries,
a counter of the windows instead of a line per step (those with --verbose)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from rich.console import Console

from bwp_lake.cli.progress import ProgressDisplay, WindowCounts
from bwp_lake.cli.run_progress import RunProgress, describe
from bwp_lake.local.lambda_runtime import Invocation

WINDOW = {"store": "store-1", "reportType": "ORDER_FEES", "day": "2024-08-22"}
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:bwp-ingest-reports:local-1"
# What the state machine passes Plan windows: the execution's input (one store, as local-run starts it) and id.
PLAN_EVENT = {"request": {"stores": ["store-1"]}, "executionId": EXECUTION}
PLAN = {"plan": {"bucket": "lake", "key": "_runs/plans/x.json"}, "windows": 5, "maxConcurrency": 5, "backfilled": 0}
API = "http://127.0.0.1:1"


class ApiClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 8, 23, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def progress_on(console: Console, *, verbose: bool = False) -> tuple[RunProgress, ApiClock]:
    clock = ApiClock()
    display = ProgressDisplay(console, lambda: progress.elapsed())
    progress = RunProgress(display, api=API, api_time=True, verbose=verbose)
    progress.begin(clock)
    return progress, clock


def a_log() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text), text


def plan(windows: int) -> Invocation:
    return Invocation("bwp-plan-windows", PLAN_EVENT, {**PLAN, "windows": windows})


def landed(report_type: str, day: str) -> Invocation:
    window = {"store": "store-1", "reportType": report_type, "day": day}
    return Invocation("bwp-land-report", {"window": window}, {"rows": 3, "bytesOut": 90, **window})


def test_an_adopted_task_reads_differently_from_a_started_one():
    adopted = Invocation(
        "bwp-start-report",
        {"window": WINDOW, "attempt": 1},
        {"taskId": "ORDER_FEES:1", "status": "RUNNING", "adopted": True},
    )
    started = Invocation(
        "bwp-start-report",
        {"window": WINDOW, "attempt": 2},
        {"taskId": "ORDER_FEES:2", "status": "STARTED", "adopted": False},
    )
    assert describe(adopted).endswith("adopted     ORDER_FEES:1 (RUNNING, started by an earlier run)")
    assert describe(started).endswith("started     ORDER_FEES:2 (attempt 2)")


def test_waiting_for_a_slot_is_said_as_waiting_not_as_an_error():
    console, text = a_log()
    progress, _ = progress_on(console, verbose=True)
    progress.invoked(Invocation("bwp-start-report", {"window": WINDOW}, None, "TaskSlotsBusy", "all 5 slots are taken"))
    assert text.getvalue() == (
        "store-1    ORDER_FEES   2024-08-22  waiting     for a report task slot: all 5 slots are taken\n"
    )


def test_the_plan_says_how_many_windows_heal_missing_days():
    console, text = a_log()
    progress, _ = progress_on(console)
    progress.invoked(Invocation("bwp-plan-windows", PLAN_EVENT, {**PLAN, "backfilled": 3}))
    assert text.getvalue().splitlines()[0] == "store-1: planned 5 windows (3 of them missing days), 5 at a time"


def test_a_throttled_step_that_will_be_retried_reads_as_a_retry_not_a_failure():
    # given a window whose Check report was throttled three times
    console, text = a_log()
    progress, _ = progress_on(console, verbose=True)
    progress.invoked(plan(1))
    for _ in range(3):
        progress.invoked(Invocation("bwp-check-report", {"window": WINDOW}, None, "ThrottlingException", "slow down"))
    lines = text.getvalue().splitlines()
    # then each is a retry, numbered against the ASL's ten, with its longest wait (15 s doubling)
    assert lines[-1] == (
        "store-1    ORDER_FEES   2024-08-22  retrying    Check report: ThrottlingException: slow down; "
        "retry 3 of 10 in up to 60 s of API time"
    )
    assert not any("fail" in line for line in lines if not line.startswith("windows: "))
    # and the counter has it retrying, not failed
    assert "0 failed" in progress._display.counter_text() and "1 retrying" in progress._display.counter_text()


def test_an_unreachable_api_at_plan_time_is_named_with_its_retries_not_called_an_input_refusal():
    # given Plan windows failing with ApiUnavailable: five retries, then given up
    console, text = a_log()
    progress, clock = progress_on(console)
    for _ in range(6):
        progress.invoked(
            Invocation("bwp-plan-windows", PLAN_EVENT, None, "ApiUnavailable", f"{API}/token: ConnectionError")
        )
        clock.now += timedelta(seconds=20)
    # then every retry is said as it happens, with its number
    lines = text.getvalue().splitlines()
    assert lines[0] == (
        f"store-1: Plan windows: ApiUnavailable: {API}/token: ConnectionError; retry 1 of 5 in up to 5 s of API time"
    )
    assert len(lines) == 5 and lines[-1].endswith("retry 5 of 5 in up to 80 s of API time")
    # and the execution's failure names the step, the error and the retries, never "input refused"
    outcome = SimpleNamespace(status="FAILED", error="ApiUnavailable", cause="{}", execution_arn=EXECUTION)
    verdict = progress.outcome_line(outcome)
    assert verdict == (
        f"Execution FAILED: Plan windows failed after 5 retries over 1m 40s of API time: ApiUnavailable: "
        f"{API}/token: ConnectionError; check that the API at {API} is up and reachable, then run again"
    )
    assert "refused" not in text.getvalue() + verdict


def test_an_input_refused_by_plan_windows_is_said_once_by_the_outcome():
    console, text = a_log()
    progress, _ = progress_on(console)
    progress.invoked(Invocation("bwp-plan-windows", PLAN_EVENT, None, "UnknownReportType", "reportTypes: unknown X"))
    outcome = SimpleNamespace(
        status="FAILED", error="UnknownReportType", cause="reportTypes: unknown X", execution_arn=EXECUTION
    )
    assert text.getvalue() == ""
    assert progress.outcome_line(outcome) == "Execution FAILED: UnknownReportType: reportTypes: unknown X"


def test_in_a_log_many_windows_print_a_bounded_number_of_counter_lines():
    # given 400 windows landing one after the other, written to a log (not a terminal)
    console, text = a_log()
    progress, _ = progress_on(console)
    progress.invoked(plan(400))
    for day in range(400):
        window = {"store": "store-1", "reportType": "ORDER_FEES", "day": f"d{day}"}
        progress.invoked(
            Invocation(
                "bwp-start-report",
                {"window": window, "attempt": 1},
                {"taskId": f"t{day}", "status": "STARTED", "adopted": False},
            )
        )
        progress.invoked(landed("ORDER_FEES", f"d{day}"))
        progress.window_ended(window, failed=False)
    # then the log holds the plan and a counter line per tenth, the last one all done
    lines = text.getvalue().splitlines()
    assert lines[0] == "store-1: planned 400 windows, 5 at a time"
    assert len(lines) <= 12
    assert lines[-1].startswith("windows: 400 of 400 done (400 landed, 0 failed), 0 in progress")


def test_verbose_prints_a_line_per_step_of_each_window():
    console, text = a_log()
    progress, _ = progress_on(console, verbose=True)
    progress.invoked(plan(2))
    progress.invoked(landed("ORDER_FEES", "2024-08-22"))
    progress.invoked(landed("USER_EVENTS", "2024-08-22"))
    lines = text.getvalue().splitlines()
    assert "store-1    ORDER_FEES   2024-08-22  landed      3 rows, 90 bytes" in lines
    assert "store-1    USER_EVENTS  2024-08-22  landed      3 rows, 90 bytes" in lines


def test_on_a_terminal_the_counter_is_one_line_redrawn_in_place():
    # given a terminal
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    progress, clock = progress_on(console)
    # when windows land and fail
    progress.invoked(plan(3))
    progress.invoked(landed("ORDER_FEES", "2024-08-22"))
    progress.window_ended({"store": "store-1", "reportType": "ORDER_FEES", "day": "2024-08-22"}, failed=False)
    progress.window_ended({"store": "store-1", "reportType": "USER_EVENTS", "day": "2024-08-22"}, failed=True)
    clock.now += timedelta(minutes=2, seconds=5)
    progress._display.close()
    # then the counter says what landed, failed and is in progress, with the API time gone by,
    # drawn over itself (cursor moves), not printed line after line
    shown = screen.getvalue()
    assert "windows: 2 of 3 done (1 landed, 1 failed), 0 in progress; 2m 05s of API time" in shown
    assert "\x1b[" in shown
    assert shown.count("planned 3 windows") == 1


def test_in_a_log_a_counter_that_changes_between_milestones_is_printed_once_a_minute_at_most():
    # given a log and a follow of a deployed run (its map run does not tell landed from failed)
    log = io.StringIO()
    now = [0.0]
    display = ProgressDisplay(Console(file=log), lambda: "1m 00s elapsed", clock=lambda: now[0])
    # when the windows in progress change every 15 s, but none is done for three minutes
    for look in range(13):
        display.update(WindowCounts(total=400, done=0, in_progress=look % 5 + 1))
        now[0] += 15
    # then a line at the start and one a minute after each, not one per look
    lines = log.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0] == "windows: 0 of 400 done, 1 in progress; 1m 00s elapsed"

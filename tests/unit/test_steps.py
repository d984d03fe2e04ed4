"""The states' logic without Lambda: plan, check (statuses, poll cap, adaptive wait), summarize."""

from datetime import UTC, date, datetime, timedelta

import pytest
from bwp import errors, polling, steps
from bwp.client import ReportTask
from bwp.models import (
    CheckReportEvent,
    PlanWindowsEvent,
    ReportProgress,
    SummarizeEvent,
)
from bwp.windows import Window

NOW = datetime(2024, 8, 25, 6, 0, tzinfo=UTC)
PROJECTION_START = date(2024, 1, 1)
WINDOW = Window(report_type="ORDER_FEES", day=date(2024, 8, 22), start_date="2024-08-22T00:00:00Z",
                end_date="2024-08-23T00:00:00Z")


class ScriptedApi:
    """Answers reportTask with the statuses a test scripts, in order."""

    def __init__(self, *statuses: str, requested: datetime = NOW - timedelta(minutes=1)) -> None:
        self.statuses = list(statuses)
        self.requested = requested

    def report_task(self, task_id: str) -> ReportTask:
        return ReportTask(task_id, "ORDER_FEES", self.statuses.pop(0), self.requested.isoformat(), NOW.isoformat())


def check(api, polls=0, wait=10, max_polls=50):
    progress = ReportProgress(task_id="ORDER_FEES:abc", report_type="ORDER_FEES", status="STARTED",
                              polls=polls, wait_seconds=wait)
    event = CheckReportEvent(window=WINDOW, report=progress, max_polls=max_polls)
    return steps.check_report(api, event, now=lambda: NOW)


def test_plan_reads_the_execution_start_time_and_input():
    event = PlanWindowsEvent(request={"lookbackDays": 1, "reportTypes": ["USER_EVENTS"]},
                             execution_start_time="2024-08-25T06:00:00.123Z")
    result = steps.plan(event, PROJECTION_START)
    assert [(w.report_type, w.day) for w in result.windows] == [("USER_EVENTS", date(2024, 8, 24))]


def test_plan_refuses_a_null_input_rather_than_taking_the_default_range():
    event = PlanWindowsEvent(request=None, execution_start_time="2024-08-25T06:00:00Z")
    with pytest.raises(errors.InvalidExecutionInput, match="execution input: must be a JSON object, got null"):
        steps.plan(event, PROJECTION_START)


def test_plan_refuses_days_before_the_projection_start_it_is_given():
    event = PlanWindowsEvent(request={"lookbackDays": 3}, execution_start_time="2024-08-25T06:00:00Z")
    with pytest.raises(errors.InvalidExecutionInput, match="lookbackDays: the first day, 2024-08-22, is before"):
        steps.plan(event, date(2024, 8, 23))


@pytest.mark.parametrize("status", ["STARTED", "RUNNING"])
def test_in_progress_report_is_polled_again_after_a_growing_wait(status):
    result = check(ScriptedApi(status), polls=2, wait=20)
    assert (result.status, result.polls) == (status, 3)
    assert result.wait_seconds == 40


def test_completed_report_is_ready_and_keeps_its_times():
    result = check(ScriptedApi("COMPLETED"))
    assert result.status == "COMPLETED"
    assert result.last_updated_time == NOW.isoformat()


def test_failed_report_raises_report_failed_with_everything_the_api_said():
    with pytest.raises(errors.ReportFailed, match='"status": "FAILED"'):
        check(ScriptedApi("FAILED"))


def test_unknown_status_is_never_taken_for_success():
    with pytest.raises(errors.UnknownReportStatus, match="'CANCELLED'"):
        check(ScriptedApi("CANCELLED"))


def test_poll_cap_ends_the_wait_with_report_timed_out():
    with pytest.raises(errors.ReportTimedOut, match="after 5 polls"):
        check(ScriptedApi("RUNNING"), polls=4, max_polls=5)


def test_wait_never_exceeds_five_minutes_and_tracks_an_old_reports_age():
    assert polling.next_wait_seconds(250, None, NOW) == polling.MAX_WAIT_SECONDS
    # a report requested 10 minutes ago is checked every 2.5 minutes, not every 10 s
    assert polling.next_wait_seconds(10, NOW - timedelta(minutes=10), NOW) == 150
    assert polling.next_wait_seconds(1, NOW, NOW) == polling.MIN_WAIT_SECONDS


def test_summary_names_each_failed_window_and_its_cause():
    event = SummarizeEvent.model_validate({
        "executionId": "arn:exec",
        "results": [
            {"status": "LANDED", "reportType": "ORDER_FEES", "day": "2024-08-22", "rows": 10, "bytesOut": 100,
             "attempts": 1},
            {"status": "LANDED", "reportType": "USER_EVENTS", "day": "2024-08-22", "rows": 5, "bytesOut": 50,
             "attempts": 1, "drift": {"missing": ["ip"], "unexpected": ["ipAddress"]}},
            {"status": "FAILED", "window": WINDOW.model_dump(by_alias=True, mode="json"), "attempts": 3,
             "error": "ReportFailed", "cause": '{"errorMessage": "report task X FAILED"}'},
        ],
    })
    summary = steps.summarize(event)
    assert (summary.windows, summary.landed, summary.failed, summary.rows, summary.bytes_out) == (3, 2, 1, 15, 150)
    assert summary.message == "1 of 3 windows failed: ORDER_FEES 2024-08-22 (ReportFailed: report task X FAILED)"
    assert summary.drifted == ["USER_EVENTS 2024-08-22"]
    assert any("FAILED after 3 attempt(s): ReportFailed" in line for line in summary.lines)

"""startReportTask and reportTask: validation, default window, statuses by the clock, the five-task
limit and the seven-day expiry."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from tests.emulator.support import SEED_EXPIRED_RESPONSE, SEED_REPORT_TASK, UUID4, ApiClient, classification


def test_an_unknown_report_type_is_an_invalid_report_type_validation_error(api, emulator):
    answer = api.start("SALES")
    assert answer["data"] == {"startReportTask": None}
    (error,) = answer["errors"]
    assert error["path"] == ["startReportTask"] and error["locations"] == [{"line": 1, "column": 12}]
    assert error["extensions"]["classification"] == {
        "type": "ValidationError",
        "code": "InvalidReportType",
        "details": {"message": error["message"]},
        "errorType": "ValidationException",
        "errorCode": 400,
    }
    assert "SALES" in error["message"] and emulator.state()["tasks"] == []


@pytest.mark.parametrize(
    "value",
    [
        "2024-08-22",
        "2024/08/22T00:00:00Z",
        "2024-08-22T00:00:00",
        "2024-08-22T00:00:00+02:00",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "",
    ],
)
@pytest.mark.parametrize("which", ["start", "end"])
def test_a_date_that_is_not_iso_8601_utc_is_an_invalid_date_format(api, value, which):
    dates = {"start": "2024-08-01T00:00:00Z", "end": "2024-08-02T00:00:00Z", which: value}
    answer = api.start("ORDER_FEES", dates["start"], dates["end"])
    assert classification(answer)["code"] == "InvalidDateFormat"
    assert classification(answer)["errorType"] == "ValidationException"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-08-22T00:00:00.250Z", "2024-08-23T00:00:00+00:00"),
        ("2024-08-22T00:00Z", "2024-08-22T00:00:01z"),
    ],
)
def test_utc_timestamps_with_fractions_or_an_explicit_zero_offset_are_accepted(api, start, end):
    assert "errors" not in api.start("ORDER_FEES", start, end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-08-22T00:00:00Z", "2024-08-22T00:00:00Z"),
        ("2024-08-23T00:00:00Z", "2024-08-22T00:00:00Z"),
    ],
)
def test_a_start_not_before_the_end_is_an_invalid_date_range(api, start, end):
    assert classification(api.start("ORDER_FEES", start, end))["code"] == "InvalidDateRange"


def test_without_a_time_range_the_report_covers_the_last_seven_days(api, emulator):
    before = emulator.now()
    answer = api.start("USER_EVENTS", None, None)
    after = emulator.now()
    assert "errors" not in answer
    (task,) = emulator.state()["tasks"]
    start, end = datetime.fromisoformat(task["startDate"]), datetime.fromisoformat(task["endDate"])
    assert before - timedelta(milliseconds=1) <= end <= after
    assert end - start == timedelta(days=7)


def test_with_only_an_end_date_the_report_covers_the_seven_days_before_it(api, emulator):
    assert "errors" not in api.start("USER_EVENTS", None, "2024-08-22T00:00:00Z")
    (task,) = emulator.state()["tasks"]
    assert (task["startDate"], task["endDate"]) == ("2024-08-15T00:00:00.000Z", "2024-08-22T00:00:00.000Z")


@pytest.mark.parametrize("report_type", ["ORDER_FEES", "USER_EVENTS"])
def test_task_ids_are_the_report_type_and_a_uuid4(api, report_type):
    ids = {api.start_task(report_type) for _ in range(3)}
    assert len(ids) == 3 and all(re.fullmatch(f"{report_type}:{UUID4}", task_id) for task_id in ids)


def test_a_task_goes_started_running_completed_as_the_clock_moves(api, emulator):
    # given a task (one day of 200 rows at 60 s per day of 2,000 rows: about 19 s to generate)
    task_id = api.start_task()
    seen = [api.task(task_id)["data"]["reportTask"]]
    for step in (2, 6, 6, 6, 6):
        emulator.advance(step)
        seen.append(api.task(task_id)["data"]["reportTask"])
    statuses = [task["status"] for task in seen]
    # then its status only moves forward, through each documented state
    assert statuses[0] == "STARTED" and statuses[-1] == "COMPLETED" and "RUNNING" in statuses
    order = ["STARTED", "RUNNING", "COMPLETED"]
    assert [order.index(status) for status in statuses] == sorted(order.index(status) for status in statuses)
    # and lastUpdatedTime moves at each change, requestTime never
    assert len({task["requestTime"] for task in seen}) == 1
    changes = {task["status"]: task["lastUpdatedTime"] for task in seen}
    assert changes["STARTED"] < changes["RUNNING"] < changes["COMPLETED"]


def _completion_order(api, emulator, task_ids: list[str]) -> list[str]:
    finished: list[str] = []
    for _ in range(200):
        for task_id in task_ids:
            if task_id not in finished and api.status(task_id) == "COMPLETED":
                finished.append(task_id)
        if len(finished) == len(task_ids):
            return finished
        emulator.advance(5)
    raise AssertionError(f"only {finished} completed")


def test_a_longer_range_takes_longer_to_generate(api, emulator):
    three_days = api.start_task("ORDER_FEES", "2024-08-01T00:00:00Z", "2024-08-04T00:00:00Z")
    one_day = api.start_task("ORDER_FEES", "2024-08-01T00:00:00Z", "2024-08-02T00:00:00Z")
    assert _completion_order(api, emulator, [three_days, one_day]) == [one_day, three_days]


def test_more_data_takes_longer_to_generate(make_emulator):
    small, big = ApiClient(make_emulator(rows_per_day=200)), ApiClient(make_emulator(rows_per_day=20_000))
    small_task, big_task = small.start_task(), big.start_task()
    for _ in range(100):
        small.emulator.advance(5)
        big.emulator.advance(5)
        if small.status(small_task) == "COMPLETED":
            break
    assert small.status(small_task) == "COMPLETED" and big.status(big_task) != "COMPLETED"


def test_with_no_generation_time_a_task_is_completed_when_first_asked(make_emulator):
    api = ApiClient(make_emulator(generation_seconds=0))
    assert api.status(api.start_task()) == "COMPLETED"


def test_a_sixth_task_while_five_are_in_progress_is_throttled(api, emulator):
    # given five tasks in progress, some of them RUNNING
    first = [api.start_task() for _ in range(3)]
    emulator.advance(10)
    assert {api.status(task_id) for task_id in first} == {"RUNNING"}
    for _ in range(2):
        api.start_task()
    # when a sixth is asked for, then it is refused with a ThrottlingException
    answer = api.start()
    assert answer["data"] == {"startReportTask": None} and answer["errors"][0]["path"] == ["startReportTask"]
    assert classification(answer) == {"type": "ThrottlingError", "errorType": "ThrottlingException", "errorCode": 429}
    assert len(emulator.state()["tasks"]) == 5
    # and once the first ones complete, there is room again
    emulator.advance(15)
    assert api.status(first[0]) == "COMPLETED"
    assert "errors" not in api.start()
    assert emulator.state()["maxConcurrentInProgress"] == 5


def test_tasks_expire_seven_days_after_they_were_requested(api, emulator):
    task_id = api.completed_task()
    requested = datetime.fromisoformat(api.task(task_id)["data"]["reportTask"]["requestTime"])
    emulator.advance_to(requested + timedelta(days=7, minutes=-1))
    assert api.status(task_id) == "COMPLETED"
    assert "errors" not in api.link(task_id)
    emulator.advance(61)
    # then the documented error, to the letter, for the task and its link
    assert api.graphql(SEED_REPORT_TASK.replace("example-task-id", task_id)) == SEED_EXPIRED_RESPONSE
    answer = api.link(task_id)
    assert answer["data"] == {"reportDownloadLink": None}
    assert answer["errors"][0]["message"] == "Querying for an invalid or expired taskId"
    assert classification(answer)["errorType"] == "ResourceNotFoundException"
    (task,) = emulator.state()["tasks"]
    assert task["expired"] is True

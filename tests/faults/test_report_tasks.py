"""Report tasks that FAIL, expire or never finish: restarted within bounds, or the window fails by name."""

from __future__ import annotations

from bwp.polling import MAX_POLLS, MAX_WAIT_SECONDS

from bwp_lake.emulator import Emulator, EmulatorConfig
from tests.twin import (
    ROWS_PER_DAY,
    SEED,
    assert_landed,
    assert_nothing_landed,
    assert_window_failed,
    calls,
    table_keys,
)

ONE_DAY = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-22", "endDate": "2024-08-23"}


def started_attempts(outcome) -> list[int]:
    return sorted(call.event["attempt"] for call in calls(outcome, "bwp-start-report") if call.error_type is None)


def test_a_report_that_fails_once_is_restarted_and_lands(engine_for, emulator):
    # given reports that fail, until the first failure has been seen
    emulator.set_faults(fail_reports="always")

    def heal_after_first_failure(invocation):
        if invocation.error_type == "ReportFailed":
            emulator.set_faults(fail_reports=0)

    engine = engine_for(heal_after_first_failure)
    # when one window runs
    outcome = engine.run(ONE_DAY)
    # then it landed whole on the second attempt, which the manifest records
    assert outcome.succeeded, outcome.cause
    assert started_attempts(outcome) == [1, 2]
    assert assert_landed(engine, "ORDER_FEES", "2024-08-22")["attempts"] == 2


def test_a_report_that_keeps_failing_fails_each_window_by_name_after_three_attempts(engine_for, emulator):
    # given an API whose reports always fail
    emulator.set_faults(fail_reports="always")
    engine = engine_for()
    # when two windows run
    outcome = engine.run({**ONE_DAY, "startDate": "2024-08-21"})
    # then each was tried three times, and the failure names each window, the error and the task
    assert started_attempts(outcome) == [1, 1, 2, 2, 3, 3]
    for day in ("2024-08-21", "2024-08-22"):
        assert_window_failed(outcome, "ORDER_FEES", day, "ReportFailed", "after 3 attempt(s)", "FAILED")
        assert_nothing_landed(engine, "ORDER_FEES", day)
    assert table_keys(engine) == []


def test_a_task_that_expires_while_waiting_is_restarted_and_lands(engine_for, emulator):
    # given a report task that expires (seven days) while the workflow waits for it
    expired = []

    def expire_first_task(invocation):
        if invocation.function == "bwp-start-report" and not expired and invocation.result:
            expired.append(invocation.result["taskId"])
            emulator.advance(8 * 24 * 3600)

    engine = engine_for(expire_first_task)
    outcome = engine.run({**ONE_DAY, "reportTypes": ["USER_EVENTS"]})
    # then reportTask answered ResourceNotFoundException, a new task was started, and it landed
    not_found = [call for call in calls(outcome, "bwp-check-report") if call.error_type == "ResourceNotFoundException"]
    assert not_found and expired[0] in not_found[0].error_message
    assert outcome.succeeded, outcome.cause
    assert started_attempts(outcome) == [1, 2]
    landed = assert_landed(engine, "USER_EVENTS", "2024-08-22")
    assert landed["taskId"] != expired[0]


def test_a_report_that_never_finishes_stops_at_the_poll_cap_with_report_timed_out(engine_for):
    # given an API whose reports take a year to generate
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=365 * 86400.0)) as slow:
        engine = engine_for(api=slow)
        # when one window runs
        outcome = engine.run(ONE_DAY)
    # then the window gave up after the poll cap, named with its cause, and nothing landed
    assert_window_failed(outcome, "ORDER_FEES", "2024-08-22", "ReportTimedOut", f"after {MAX_POLLS} polls")
    assert_nothing_landed(engine, "ORDER_FEES", "2024-08-22")
    assert len(calls(outcome, "bwp-check-report")) == MAX_POLLS
    # and the waits grew to the five-minute ceiling instead of hammering the API
    waits = [call.result["waitSeconds"] for call in calls(outcome, "bwp-check-report") if call.result]
    assert waits == sorted(waits) and waits[-1] == MAX_WAIT_SECONDS

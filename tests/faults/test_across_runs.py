"""Across runs, on the local engine: live tasks adopted, the five slots shared, concurrency kept."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from bwp_lake.emulator import Emulator, EmulatorConfig
from tests.twin import ROWS_PER_DAY, SEED, calls, keys, landed_csv, manifest, report_key, series_folder, served_csv

DAYS = [date(2024, 8, 20) + timedelta(days=n) for n in range(5)]


def test_tasks_an_earlier_run_left_alive_are_adopted_not_started_again(engine_for):
    # given reports that take an hour, and a run whose windows all die mid-poll after starting
    # their tasks (the API answers every reportTask with a server error from then on)
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=3600.0)) as api:
        started = []

        def break_polling_after_five_starts(invocation):
            if invocation.function == "bwp-start-report" and invocation.result:
                started.append(invocation.result["taskId"])
                if len(started) == 5:
                    api.set_faults(internal_error_rate=1.0)

        engine = engine_for(break_polling_after_five_starts, api=api)
        request = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-20", "endDate": "2024-08-25"}
        first = engine.run(request)
        assert first.summary["failed"] == 5
        assert {task["status"] for task in api.state()["tasks"]} <= {"STARTED", "RUNNING"}
        # when the same days run again, with the API healthy
        api.set_faults(internal_error_rate=0.0)
        second = engine.run(request)
        # then no task was started again: the five live ones were adopted and landed
        assert second.succeeded, second.cause
        assert [call for call in calls(second, "bwp-start-report") if call.result and not call.result["adopted"]] == []
        assert len(api.state()["tasks"]) == 5
        for day in DAYS:
            assert landed_csv(engine, report_key("ORDER_FEES", day)) == served_csv("ORDER_FEES", day)
            recorded = manifest(engine, "ORDER_FEES", day)
            assert recorded["task"] == {"adopted": True, "startedBy": first.execution_arn}
            assert recorded["taskId"] in started


def test_a_landed_day_is_run_again_with_a_new_task_so_restated_data_is_fetched(engine_for, emulator):
    engine = engine_for()
    request = {"reportTypes": ["USER_EVENTS"], "startDate": "2024-08-20", "endDate": "2024-08-21"}
    first_task = manifest_after(engine, request)["taskId"]
    second = manifest_after(engine, request)
    assert second["taskId"] != first_task and second["task"]["adopted"] is False


def manifest_after(engine, request) -> dict:
    outcome = engine.run(request)
    assert outcome.succeeded, outcome.cause
    return manifest(engine, "USER_EVENTS", date(2024, 8, 20))


def test_two_executions_at_once_share_the_five_slots_and_neither_is_throttled(engine_for):
    # given two backfills of 30 windows each, started together, of reports that take minutes
    first = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-07-01", "endDate": "2024-07-16"}
    second = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-07-16", "endDate": "2024-07-31"}
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=600.0)) as api:
        engine = engine_for(api=api)
        # when they run
        outcomes = engine.run_together([first, second])
    # then both land every window, and no start was throttled (the API refuses a sixth task in
    # progress): windows waited for a slot instead
    for outcome in outcomes:
        assert outcome.succeeded, outcome.cause
        assert outcome.summary["landed"] == 30
    starts = calls(outcomes[0], "bwp-start-report")
    assert not [call for call in starts if call.error_type == "ThrottlingException"]
    assert [call for call in starts if call.error_type == "TaskSlotsBusy"], "the executions never had to share"


def test_max_concurrency_two_runs_at_most_two_windows_at_once(engine_for, emulator):
    # given a probe of how many tasks are in progress at the API whenever a window acts
    in_progress_seen = []
    lock = threading.Lock()

    def count_in_progress(invocation):
        if invocation.function in ("bwp-start-report", "bwp-check-report"):
            tasks = emulator.state()["tasks"]
            with lock:
                in_progress_seen.append(sum(task["status"] in ("STARTED", "RUNNING") for task in tasks))

    engine = engine_for(count_in_progress)
    # when six windows run with maxConcurrency 2
    outcome = engine.run(
        {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-01", "endDate": "2024-08-07", "maxConcurrency": 2}
    )
    # then all land, and never more than two tasks were in progress, though two often were
    assert outcome.succeeded, outcome.cause
    assert max(in_progress_seen) == 2
    assert emulator.state()["maxConcurrentInProgress"] == 2


def test_the_schedule_heals_missed_days_over_a_few_runs_by_itself(engine_for, emulator):
    # given a lake that must hold ORDER_FEES since five days before the look-back, and holds none
    engine = engine_for()
    today = emulator.now().date()
    backfill_from = today - timedelta(days=6)
    nightly = {
        "reportTypes": ["ORDER_FEES"],
        "lookbackDays": 1,
        "backfillFrom": str(backfill_from),
        "maxBackfillWindows": 3,
    }
    # when the schedule runs twice
    first = engine.run(nightly)
    second = engine.run(nightly)
    # then the first run lands the look-back and the three oldest missing days, and says what is left
    assert first.succeeded, first.cause
    assert first.summary["landed"] == 4 and first.summary["missing"] == 2
    assert "2 partition(s) since" in first.summary["message"]
    # and the second lands the rest: every day since backfillFrom is in the lake, none twice
    assert second.summary["landed"] == 3 and second.summary["missing"] == 0
    days = [backfill_from + timedelta(days=n) for n in range(6)]
    landed = sorted(key for key in keys(engine, series_folder("ORDER_FEES")))
    assert landed == [report_key("ORDER_FEES", day) for day in days]

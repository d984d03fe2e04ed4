"""The progress lines `local-run` and `demo` print as the functions return."""

from bwp_lake.cli.local_run import describe
from bwp_lake.local.lambda_runtime import Invocation

WINDOW = {"reportType": "ORDER_FEES", "day": "2024-08-22"}


def test_an_adopted_task_reads_differently_from_a_started_one():
    adopted = Invocation("bwp-start-report", {"window": WINDOW, "attempt": 1},
                         {"taskId": "ORDER_FEES:1", "status": "RUNNING", "adopted": True})
    started = Invocation("bwp-start-report", {"window": WINDOW, "attempt": 2},
                         {"taskId": "ORDER_FEES:2", "status": "STARTED", "adopted": False})
    assert describe(adopted).endswith("adopted     ORDER_FEES:1 (RUNNING, started by an earlier run)")
    assert describe(started).endswith("started     ORDER_FEES:2 (attempt 2)")


def test_waiting_for_a_slot_is_said_as_waiting_not_as_an_error():
    busy = Invocation("bwp-start-report", {"window": WINDOW}, None, "TaskSlotsBusy", "all 5 slots are taken")
    assert describe(busy) == "ORDER_FEES   2024-08-22  waiting     for a report task slot: all 5 slots are taken"


def test_the_plan_says_how_many_windows_heal_missing_days():
    plan = {"plan": {"bucket": "lake", "key": "_runs/plans/x.json"}, "windows": 5, "maxConcurrency": 5, "backfilled": 3}
    healing = Invocation("bwp-plan-windows", {}, plan)
    plain = Invocation("bwp-plan-windows", {}, {**plan, "backfilled": 0})
    assert describe(healing) == "planned 5 windows (3 of them missing days), 5 at a time"
    assert describe(plain) == "planned 5 windows, 5 at a time"

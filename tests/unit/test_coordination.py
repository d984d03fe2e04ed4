"""The task slots and the ledger on moto's DynamoDB: shared, leased, fair, and adopted only when alive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from bwp import errors
from bwp.coordination import SLOT_LEASE, WAITER_LEASE, LedgerEntry, TaskLedger, TaskSlots
from bwp.lake.partition import Partition, Series

START = datetime(2024, 8, 25, 6, 0, tzinfo=UTC)
DAY = date(2024, 8, 22)
STORE = "acme"
FEES_DAY = Partition(STORE, "ORDER_FEES", DAY)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def in_progress() -> set[str]:
    """Task ids the API would answer STARTED or RUNNING for."""
    return set()


@pytest.fixture
def slots(state_table, clock, in_progress):
    def build(limit: int = 5) -> TaskSlots:
        return TaskSlots(state_table, "target-1", limit, clock, task_in_progress=lambda task: task in in_progress)

    return build


def test_no_more_holders_than_slots_and_a_released_slot_is_taken_again(slots):
    # given five slots, each taken by a window
    semaphore = slots()
    taken = {semaphore.acquire(f"window-{n}") for n in range(5)}
    assert taken == set(range(5))
    # when a sixth window asks, then it must wait
    with pytest.raises(errors.TaskSlotsBusy, match="all 5 report task slots are taken"):
        semaphore.acquire("window-5")
    # when one is given back, then the sixth gets it
    semaphore.release(2, holder="window-2")
    assert semaphore.acquire("window-5") == 2


def test_every_execution_sees_the_same_slots(slots):
    # given two executions' own clients over the one table
    first, second = slots(limit=2), slots(limit=2)
    first.acquire("execution-a#1")
    second.acquire("execution-b#1")
    with pytest.raises(errors.TaskSlotsBusy):
        first.acquire("execution-a#2")


def test_asking_again_while_holding_returns_the_same_slot(slots):
    semaphore = slots(limit=2)
    assert semaphore.acquire("window-0") == semaphore.acquire("window-0")
    semaphore.acquire("window-1")


def test_a_freed_slot_goes_to_the_window_that_waited_longest(slots, clock):
    # given two slots held, and a window that has been waiting
    semaphore = slots(limit=2)
    semaphore.acquire("backfill-1")
    semaphore.acquire("backfill-2")
    with pytest.raises(errors.TaskSlotsBusy):
        semaphore.acquire("schedule-1")
    clock.advance(timedelta(seconds=30))
    # when a slot frees and a newcomer asks before the waiter asks again
    semaphore.release(0, holder="backfill-1")
    with pytest.raises(errors.TaskSlotsBusy, match="1 window"):
        semaphore.acquire("backfill-3")
    # then the waiter gets it
    assert semaphore.acquire("schedule-1") == 0


def test_a_waiter_that_stopped_asking_loses_its_place(slots, clock):
    semaphore = slots(limit=1)
    semaphore.acquire("holder")
    with pytest.raises(errors.TaskSlotsBusy):
        semaphore.acquire("gone")
    semaphore.release(0, holder="holder")
    clock.advance(WAITER_LEASE + timedelta(seconds=1))
    assert semaphore.acquire("newcomer") == 0


def test_an_expired_lease_is_taken_back_once_its_task_is_done(slots, clock, in_progress):
    # given a slot whose window died while its task ran
    semaphore = slots(limit=1)
    semaphore.attach(semaphore.acquire("dead-window"), "dead-window", "ORDER_FEES:1")
    in_progress.add("ORDER_FEES:1")
    clock.advance(SLOT_LEASE + timedelta(minutes=1))
    # when its task is still in progress at the API, then the slot stays taken
    with pytest.raises(errors.TaskSlotsBusy):
        semaphore.acquire("new-window")
    # when the task is done, then the slot is taken back
    in_progress.clear()
    clock.advance(SLOT_LEASE + timedelta(minutes=1))
    assert semaphore.acquire("new-window") == 0


def test_a_renewed_lease_is_never_taken_back(slots, clock):
    semaphore = slots(limit=1)
    semaphore.attach(semaphore.acquire("window"), "window", "ORDER_FEES:1")
    for _ in range(3):
        clock.advance(SLOT_LEASE - timedelta(minutes=5))
        semaphore.renew(0, "ORDER_FEES:1")
        with pytest.raises(errors.TaskSlotsBusy):
            semaphore.acquire("other")


def test_an_adopted_task_takes_over_its_slot(slots):
    # given a slot that a dead window's task holds
    semaphore = slots(limit=1)
    semaphore.attach(semaphore.acquire("dead-window"), "dead-window", "ORDER_FEES:1")
    # when a re-run adopts the task, then it holds the same slot and releases it by task
    assert semaphore.take_over("ORDER_FEES:1", "rerun-window") == 0
    semaphore.release(0, task_id="ORDER_FEES:1")
    assert semaphore.acquire("next") == 0


def test_a_release_by_someone_else_leaves_the_slot_alone(slots):
    semaphore = slots(limit=1)
    semaphore.attach(semaphore.acquire("window"), "window", "ORDER_FEES:1")
    semaphore.release(0, task_id="ORDER_FEES:other")
    semaphore.release(0, holder="someone-else")
    with pytest.raises(errors.TaskSlotsBusy):
        semaphore.acquire("next")


def test_the_ledger_keeps_the_task_and_its_status_and_forgets_the_failure_once_landed(state_table, clock):
    ledger = TaskLedger(state_table, clock)
    ledger.record_started(FEES_DAY, "ORDER_FEES:1", "arn:execution:a", 1)
    ledger.record_failure(FEES_DAY, "ReportTimedOut", "still RUNNING", "arn:execution:a")
    entry = ledger.find(FEES_DAY)
    assert (entry.task_id, entry.status, entry.started_by, entry.last_error) == (
        "ORDER_FEES:1",
        "STARTED",
        "arn:execution:a",
        "ReportTimedOut",
    )
    # a status for a task the window no longer has is dropped
    ledger.record_status(FEES_DAY, "ORDER_FEES:old", "FAILED")
    assert ledger.find(FEES_DAY).status == "STARTED"
    ledger.record_status(FEES_DAY, "ORDER_FEES:1", "LANDED")
    landed = ledger.find(FEES_DAY)
    assert (landed.status, landed.last_error) == ("LANDED", None)
    assert [e.day for e in ledger.entries(Series(STORE, "ORDER_FEES"))] == [DAY]
    assert ledger.find(Partition(STORE, "USER_EVENTS", DAY)) is None


def test_the_ledger_names_where_a_report_that_could_not_be_curated_is_kept_until_the_day_lands(state_table, clock):
    # given a window whose report could not be curated
    ledger = TaskLedger(state_table, clock)
    ledger.record_started(FEES_DAY, "ORDER_FEES:1", "arn:execution:a", 1)
    ledger.record_quarantine(FEES_DAY, "ORDER_FEES:1", FEES_DAY.quarantine_key("a"))
    # and a late write for a task the window no longer has
    ledger.record_quarantine(FEES_DAY, "ORDER_FEES:old", "quarantine/elsewhere")
    # then the ledger names where this task's report is kept
    assert ledger.find(FEES_DAY).quarantine_key == FEES_DAY.quarantine_key("a")
    # and forgets it once the day lands
    ledger.record_status(FEES_DAY, "ORDER_FEES:1", "LANDED")
    assert ledger.find(FEES_DAY).quarantine_key is None


@pytest.mark.parametrize(
    ("status", "age", "adoptable"),
    [
        ("STARTED", timedelta(hours=1), True),
        ("RUNNING", timedelta(days=2), True),
        ("COMPLETED", timedelta(days=6), True),
        ("FAILED", timedelta(hours=1), False),
        ("LANDED", timedelta(hours=1), False),
        ("RUNNING", timedelta(days=7), False),
        ("RUNNING", timedelta(days=7) - timedelta(hours=1), False),  # would expire while polled
    ],
)
def test_only_a_task_that_can_still_serve_its_window_may_be_adopted(status, age, adoptable):
    entry = LedgerEntry(STORE, "ORDER_FEES", DAY, "ORDER_FEES:1", status, (START - age).isoformat(), "a", None, None)
    assert entry.may_be_adopted(START) is adoptable


def test_a_ledger_entry_written_before_stores_reads_as_the_default_stores(state_table):
    # given an item as the ledger wrote it before stores: WINDOW#<type>
    state_table.put_item(Item={"pk": "WINDOW#ORDER_FEES", "sk": "2024-08-22", "taskId": "t", "status": "LANDED"})
    # when it is read back
    (entry,) = [LedgerEntry.from_item(item) for item in state_table.scan()["Items"]]
    # then it is the default store's, and of its report type
    assert (entry.store, entry.report_type, entry.task_id) == ("default", "ORDER_FEES", "t")

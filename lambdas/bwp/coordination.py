"""What outlives one execution: the report tasks started (the ledger) and the API's task slots.

Executions overlap, die half-way and are re-run days later. Two facts must survive them:
- which report task serves which (report type, day), so that a task an earlier run left alive
  is adopted instead of started again (each task holds one of the merchant's five slots);
- which of the merchant's five slots are taken, so that every execution shares them, in the
  order windows asked for them, instead of racing each other into ThrottlingException.

Both live in one DynamoDB table (the local engine has moto's). DynamoDB, not S3, because a slot
is taken with a conditional write: two executions can never both take the last one.

Items (``pk``, ``sk``):
- ``WINDOW#<store>#<type>``, ``<day>``: the ledger entry of one window: its task, status, who started it,
  and the last failure of a window that has not landed since, with where its report is kept
  when it could not be curated (``quarantineKey``).
- ``SLOTS#<target id>``, ``slot#<n>``: a slot taken by a window (``holder``), with the task it
  started and a lease that the window renews on every poll.
- ``WAITERS#<target id>``, ``<holder>``: a window waiting for a slot, with when it first asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bwp import errors
from bwp.aws import transient_aws_errors
from bwp.clock import Clock, iso_utc
from bwp.lake.partition import Partition, Series
from bwp.lake.stores import DEFAULT_STORE_ID
from bwp.models import ReportStatus
from bwp.observability import logger
from bwp.polling import IN_PROGRESS
from bwp.redaction import redact

# A task is adopted only well inside the API's seven days: one about to expire would vanish
# while it is being polled or landed.
TASK_LIFETIME = timedelta(days=7)
ADOPTION_MARGIN = timedelta(hours=6)
# Ledger entries outlive their tasks by weeks so that `bwp-lake gaps` can still name a failure.
LEDGER_RETENTION = timedelta(days=90)

# A window renews its slot's lease on every poll; polls are at most five minutes apart plus the
# check's retries' backoff (about three quarters of an hour), so an hour without renewal means
# the window is gone. Its task may still be running at the API: the slot is then kept until it
# is not. tests/unit/test_asl.py holds the lease to polling's longest wait and the ASL's retries.
SLOT_LEASE = timedelta(hours=1)
# A waiter asks again at least every minute (the ASL's retry of TaskSlotsBusy); one that has not
# asked for five has given up or died and no longer holds its place in the queue (held to the
# ASL's retry by tests/unit/test_asl.py).
WAITER_LEASE = timedelta(minutes=5)

LEDGER_PK_PREFIX = "WINDOW#"
SLOTS_PK_PREFIX = "SLOTS#"
WAITERS_PK_PREFIX = "WAITERS#"
ADOPTABLE_STATUSES = IN_PROGRESS | {ReportStatus.COMPLETED}
MAX_CAUSE_CHARS = 500


def _epoch(instant: datetime) -> int:
    return int(instant.timestamp())


def _conditional_write(write: Callable[[], Any], what: str) -> bool:
    """Run a conditional write; False when its condition did not hold."""
    try:
        with transient_aws_errors(what):
            write()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _query_all(table: Any, pk: str, what: str) -> list[dict[str, Any]]:
    """Every item of one partition, read consistently (a slot just taken must be seen)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": pk},
        "ConsistentRead": True,
    }
    with transient_aws_errors(what):
        while True:
            page = table.query(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class LedgerEntry:
    store: str
    report_type: str
    day: date
    task_id: str | None
    status: str | None
    started_at: str | None
    started_by: str | None
    last_error: str | None
    last_cause: str | None
    quarantine_key: str | None = None  # the report as served, of a day that could not be curated

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LedgerEntry:
        series = item["pk"].removeprefix(LEDGER_PK_PREFIX)
        # An entry written before stores (``WINDOW#<type>``) is the one store's of that deployment.
        store, report_type = series.split("#", 1) if "#" in series else (DEFAULT_STORE_ID, series)
        return cls(
            store=store,
            report_type=report_type,
            day=date.fromisoformat(item["sk"]),
            task_id=item.get("taskId"),
            status=item.get("status"),
            started_at=item.get("startedAt"),
            started_by=item.get("startedBy"),
            last_error=item.get("lastError"),
            last_cause=item.get("lastCause"),
            quarantine_key=item.get("quarantineKey"),
        )

    @property
    def partition(self) -> Partition:
        return Partition(self.store, self.report_type, self.day)

    def may_be_adopted(self, now: datetime) -> bool:
        """Whether the task could still serve its window (the API has the final word)."""
        if not self.task_id or self.status not in ADOPTABLE_STATUSES or not self.started_at:
            return False
        started = datetime.fromisoformat(self.started_at)
        return now - started < TASK_LIFETIME - ADOPTION_MARGIN


class TaskLedger:
    """Every report task a window started, recorded before the workflow moves on."""

    def __init__(self, table: Any, now: Clock) -> None:
        self._table = table
        self._now = now

    @staticmethod
    def _pk(series: Series) -> str:
        return f"{LEDGER_PK_PREFIX}{series.store}#{series.report_type}"

    @classmethod
    def _key(cls, partition: Partition) -> dict[str, str]:
        return {"pk": cls._pk(partition.series), "sk": partition.day.isoformat()}

    def find(self, partition: Partition) -> LedgerEntry | None:
        with transient_aws_errors(f"reading the ledger entry of {partition}"):
            item = self._table.get_item(Key=self._key(partition), ConsistentRead=True).get("Item")
        return LedgerEntry.from_item(item) if item else None

    def entries(self, series: Series) -> list[LedgerEntry]:
        items = _query_all(self._table, self._pk(series), f"reading the ledger of {series}")
        return [LedgerEntry.from_item(item) for item in items]

    def record_started(self, partition: Partition, task_id: str, execution_id: str, attempt: int) -> None:
        now = self._now()
        item = {
            **self._key(partition),
            "taskId": task_id,
            "status": ReportStatus.STARTED,
            "startedAt": iso_utc(now),
            "startedBy": execution_id,
            "attempt": attempt,
            "updatedAt": iso_utc(now),
            "expiresAt": _epoch(now + LEDGER_RETENTION),
        }
        with transient_aws_errors(f"recording task {task_id} in the ledger"):
            self._table.put_item(Item=item)

    def record_status(self, partition: Partition, task_id: str, status: str) -> None:
        """The task's new status; a write for another task (the window was restarted since) is dropped."""
        landed = status == ReportStatus.LANDED
        removes = " REMOVE lastError, lastCause, failedAt, failedBy, quarantineKey" if landed else ""
        _conditional_write(
            lambda: self._table.update_item(
                Key=self._key(partition),
                UpdateExpression="SET #status = :status, updatedAt = :now" + removes,
                ConditionExpression="taskId = :task",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": status, ":task": task_id, ":now": iso_utc(self._now())},
            ),
            f"recording {status} for task {task_id}",
        )

    def record_quarantine(self, partition: Partition, task_id: str, key: str) -> None:
        """Where the report of ``task_id``, which could not be curated, is kept (dropped for another task)."""
        _conditional_write(
            lambda: self._table.update_item(
                Key=self._key(partition),
                UpdateExpression="SET quarantineKey = :key, updatedAt = :now",
                ConditionExpression="taskId = :task",
                ExpressionAttributeValues={":key": key, ":task": task_id, ":now": iso_utc(self._now())},
            ),
            f"recording where the report of task {task_id} is kept",
        )

    def record_failure(self, partition: Partition, error: str, cause: str, execution_id: str) -> None:
        now = self._now()
        with transient_aws_errors(f"recording the failure of {partition}"):
            self._table.update_item(
                Key=self._key(partition),
                UpdateExpression="SET lastError = :error, lastCause = :cause, failedAt = :now, failedBy = :by, "
                "updatedAt = :now, expiresAt = :expires",
                ExpressionAttributeValues={
                    ":error": error,
                    # Kept for months and read by `bwp-lake gaps`: whoever wrote the cause, no secret in it.
                    ":cause": redact(cause)[:MAX_CAUSE_CHARS],
                    ":now": iso_utc(now),
                    ":by": execution_id,
                    ":expires": _epoch(now + LEDGER_RETENTION),
                },
            )


@dataclass(frozen=True)
class _Slot:
    index: int
    holder: str
    task_id: str | None
    lease_expires_at: int

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> _Slot:
        return cls(
            index=int(item["sk"].removeprefix("slot#")),
            holder=item["holder"],
            task_id=item.get("taskId"),
            lease_expires_at=int(item["leaseExpiresAt"]),
        )


class TaskSlots:
    """A counting semaphore over the merchant's report-task slots, shared by every execution.

    A window takes a slot before it starts a task and gives it back when the task leaves
    STARTED/RUNNING. Windows that find every slot taken queue up: a slot that frees goes to the
    window that has waited longest, not to whichever asks first (a long backfill would otherwise
    take every slot again the moment it frees one). A slot whose lease ran out is taken back
    only once its task is no longer in progress at the API, which ``task_in_progress`` tells.
    """

    def __init__(
        self,
        table: Any,
        target_id: str,
        limit: int,
        now: Clock,
        task_in_progress: Callable[[str], bool],
    ) -> None:
        self._table = table
        self._slots_pk = f"{SLOTS_PK_PREFIX}{target_id}"
        self._waiters_pk = f"{WAITERS_PK_PREFIX}{target_id}"
        self._limit = limit
        self._now = now
        self._task_in_progress = task_in_progress

    # --- taking and giving back ---------------------------------------------------------------
    def acquire(self, holder: str) -> int:
        """The index of the slot now held by ``holder``; TaskSlotsBusy if it must wait."""
        now = self._now()
        slots = self._slots()
        for slot in slots.values():
            if slot.holder == holder:  # a retried invocation already holds one
                return slot.index
        busy = {index for index, slot in slots.items() if not self._reclaimed(slot, now)}
        free = [index for index in range(self._limit) if index not in busy]
        ahead = self._waiters_ahead(holder, now, enqueue=not free)
        if len(free) > ahead:
            # The first ``ahead`` free slots are the waiters' before us.
            for index in free[ahead:]:
                if self._take(index, holder, None, now):
                    self._leave_queue(holder)
                    return index
        if free:  # lost every race, or others wait first: queue up like them
            ahead = self._waiters_ahead(holder, now, enqueue=True)
        raise errors.TaskSlotsBusy(
            f"all {self._limit} report task slots are taken ({len(busy)} busy, {ahead} window(s) waiting first)"
        )

    def attach(self, index: int, holder: str, task_id: str) -> None:
        """Record the task a slot's holder started with it."""
        self._update_slot(
            index,
            {"taskId": task_id, "leaseExpiresAt": self._lease_end()},
            "holder = :expected",
            holder,
            f"recording task {task_id} on slot {index}",
        )

    def renew(self, index: int, task_id: str) -> None:
        renewed = self._update_slot(
            index, {"leaseExpiresAt": self._lease_end()}, "taskId = :expected", task_id, f"renewing slot {index}"
        )
        if not renewed:
            logger.warning("slot no longer held by its task", extra={"slot": index, "task_id": task_id})

    def release(self, index: int, *, holder: str | None = None, task_id: str | None = None) -> None:
        """Give a slot back, if it is still ours (by holder before a task started, else by task)."""
        condition, values = (
            ("holder = :who", {":who": holder})
            if task_id is None
            else (
                "taskId = :who",
                {":who": task_id},
            )
        )
        _conditional_write(
            lambda: self._table.delete_item(
                Key=self._slot_key(index), ConditionExpression=condition, ExpressionAttributeValues=values
            ),
            f"releasing slot {index}",
        )

    def take_over(self, task_id: str, holder: str) -> int | None:
        """Hold the slot of an adopted task that is still in progress.

        The task holds an API slot whatever we record; if no slot names it (its lease was taken
        back, or it was started before slots were kept), a free slot records it, and if none is
        free it runs unrecorded rather than wait: waiting would not free the API's slot.
        """
        now = self._now()
        slots = self._slots()
        for slot in slots.values():
            if slot.task_id == task_id:
                taken = self._update_slot(
                    slot.index,
                    {"holder": holder, "leaseExpiresAt": self._lease_end()},
                    "taskId = :expected",
                    task_id,
                    f"taking over slot {slot.index}",
                )
                return slot.index if taken else None
        for index in range(self._limit):
            if index not in slots and self._take(index, holder, task_id, now):
                return index
        return None

    # --- what is in the table -------------------------------------------------------------------
    def _slots(self) -> dict[int, _Slot]:
        items = _query_all(self._table, self._slots_pk, "reading the task slots")
        return {slot.index: slot for slot in map(_Slot.from_item, items)}

    def _reclaimed(self, slot: _Slot, now: datetime) -> bool:
        """Whether an expired slot was taken back; a live lease is never touched."""
        if slot.lease_expires_at > _epoch(now):
            return False
        if slot.task_id and self._task_in_progress(slot.task_id):
            # Its window is gone but its task still counts against the API's limit.
            self._update_slot(
                slot.index,
                {"leaseExpiresAt": self._lease_end()},
                "leaseExpiresAt = :expected",
                slot.lease_expires_at,
                f"extending slot {slot.index} of a task still in progress",
            )
            return False
        return _conditional_write(
            lambda: self._table.delete_item(
                Key=self._slot_key(slot.index),
                ConditionExpression="holder = :holder AND leaseExpiresAt = :lease",
                ExpressionAttributeValues={":holder": slot.holder, ":lease": slot.lease_expires_at},
            ),
            f"taking back slot {slot.index}",
        )

    def _update_slot(self, index: int, changes: dict[str, Any], condition: str, expected: Any, what: str) -> bool:
        """Set ``changes`` on a slot if ``condition`` (on ``:expected``) holds; whether it did."""
        return _conditional_write(
            lambda: self._table.update_item(
                Key=self._slot_key(index),
                UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in changes),
                ConditionExpression=condition,
                ExpressionAttributeValues={
                    **{f":{name}": value for name, value in changes.items()},
                    ":expected": expected,
                },
            ),
            what,
        )

    def _lease_end(self) -> int:
        return _epoch(self._now() + SLOT_LEASE)

    def _take(self, index: int, holder: str, task_id: str | None, now: datetime) -> bool:
        item: dict[str, Any] = {
            **self._slot_key(index),
            "holder": holder,
            "acquiredAt": iso_utc(now),
            "leaseExpiresAt": _epoch(now + SLOT_LEASE),
        }
        if task_id:
            item["taskId"] = task_id
        return _conditional_write(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)"),
            f"taking slot {index}",
        )

    def _waiters_ahead(self, holder: str, now: datetime, *, enqueue: bool) -> int:
        """How many live waiters asked before ``holder``; with ``enqueue``, ``holder`` joins the queue."""
        if enqueue:
            with transient_aws_errors("joining the slot queue"):
                self._table.update_item(
                    Key={"pk": self._waiters_pk, "sk": holder},
                    UpdateExpression="SET enqueuedAt = if_not_exists(enqueuedAt, :now), leaseExpiresAt = :lease",
                    ExpressionAttributeValues={
                        ":now": f"{now.timestamp():.3f}",
                        ":lease": _epoch(now + WAITER_LEASE),
                    },
                )
        waiters = _query_all(self._table, self._waiters_pk, "reading the slot queue")
        live = [w for w in waiters if int(w["leaseExpiresAt"]) > _epoch(now)]
        mine = next((w for w in live if w["sk"] == holder), None)
        if mine is None:
            return len(live)
        return sum(1 for w in live if (float(w["enqueuedAt"]), w["sk"]) < (float(mine["enqueuedAt"]), holder))

    def _leave_queue(self, holder: str) -> None:
        with transient_aws_errors("leaving the slot queue"):
            self._table.delete_item(Key={"pk": self._waiters_pk, "sk": holder})

    def _slot_key(self, index: int) -> dict[str, str]:
        return {"pk": self._slots_pk, "sk": f"slot#{index}"}

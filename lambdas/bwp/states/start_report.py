"""Start report: adopt the window's task if an earlier run left one alive; else take a slot and start one."""

from __future__ import annotations

from datetime import datetime

from boto3.resources.base import ServiceResource

from bwp import errors, polling
from bwp.client import BwpClient, ReportTask
from bwp.clock import Clock
from bwp.coordination import LedgerEntry, TaskLedger
from bwp.lake.settings import Settings
from bwp.models import ReportProgress, ReportStatus, StartReportEvent, Window
from bwp.observability import logger
from bwp.states.report_tasks import merchant_slots, next_wait


def start_report(
    client: BwpClient, table: ServiceResource, settings: Settings, clock: Clock, event: StartReportEvent
) -> ReportProgress:
    window = event.window
    now = clock()
    ledger = TaskLedger(table, clock)
    slots = merchant_slots(client, table, settings, clock)
    holder = _slot_holder(event.execution_id, window)
    adopted = _adoptable_task(client, ledger.find(window.partition), now)
    if adopted is not None:
        entry, task = adopted
        slot = slots.take_over(task.task_id, holder) if task.status in polling.IN_PROGRESS else None
        logger.info(
            "report task adopted",
            extra={
                "task_id": task.task_id,
                "day": str(window.day),
                "status": task.status,
                "started_by": entry.started_by,
            },
        )
        return ReportProgress(
            task_id=task.task_id,
            report_type=window.report_type,
            status=task.status,
            request_time=task.request_time,
            last_updated_time=task.last_updated_time,
            wait_seconds=0 if task.status == ReportStatus.COMPLETED else next_wait(window, task, 0, now),
            slot=slot,
            adopted=True,
            started_by=entry.started_by,
        )
    slot = slots.acquire(holder)
    try:
        task_id = client.start_report_task(window.report_type, window.start_date, window.end_date)
    except BaseException:
        # Throttled by a task we do not know of, or refused: the slot goes to the next window.
        slots.release(slot, holder=holder)
        raise
    ledger.record_started(window.partition, task_id, event.execution_id, event.attempt)
    slots.attach(slot, holder, task_id)
    logger.info("report task started", extra={"task_id": task_id, "day": str(window.day), "attempt": event.attempt})
    return ReportProgress(
        task_id=task_id,
        report_type=window.report_type,
        status=ReportStatus.STARTED,
        polls=0,
        wait_seconds=polling.next_wait_seconds(0, now, now, window.expected_generation),
        slot=slot,
        started_by=event.execution_id,
    )


def _adoptable_task(
    client: BwpClient, entry: LedgerEntry | None, now: datetime
) -> tuple[LedgerEntry, ReportTask] | None:
    """The ledger's task for the window if the API says it can still serve it."""
    if entry is None or not entry.may_be_adopted(now) or entry.task_id is None:
        return None
    try:
        task = client.report_task(entry.task_id)
    except errors.ResourceNotFoundException:
        logger.info("ledger task expired at the API; starting a new one", extra={"task_id": entry.task_id})
        return None
    if task.status in polling.IN_PROGRESS or task.status == ReportStatus.COMPLETED:
        return entry, task
    logger.info("ledger task cannot be adopted", extra={"task_id": entry.task_id, "status": task.status})
    return None


def _slot_holder(execution_id: str, window: Window) -> str:
    """One holder per window of an execution: a restarted window keeps its slot."""
    return f"{execution_id}#{window.report_type}#{window.day}"

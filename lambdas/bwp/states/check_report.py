"""Check report: the task's status from the API, its slot renewed or given back, and how long to
wait before the next check."""

from __future__ import annotations

import json
from dataclasses import asdict

from boto3.resources.base import ServiceResource

from bwp import errors, polling
from bwp.client import BwpClient
from bwp.clock import Clock
from bwp.coordination import TaskLedger
from bwp.lake import contract
from bwp.lake.settings import Settings
from bwp.models import CheckReportEvent, ReportProgress, ReportStatus
from bwp.observability import add_series_dimensions, logger, metrics
from bwp.states.report_tasks import merchant_slots, next_wait


def check_report(
    client: BwpClient, table: ServiceResource, settings: Settings, clock: Clock, event: CheckReportEvent
) -> ReportProgress:
    window = event.window
    logger.append_keys(report_type=window.report_type, day=str(window.day))
    previous = event.report
    task = client.report_task(previous.task_id)
    polls = previous.polls + 1
    progress = previous.model_copy(
        update={
            "status": task.status,
            "request_time": task.request_time,
            "last_updated_time": task.last_updated_time,
            "polls": polls,
        }
    )
    in_progress = task.status in polling.IN_PROGRESS
    if task.status != previous.status:
        TaskLedger(table, clock).record_status(window.partition, task.task_id, task.status)
    if previous.slot is not None:
        slots = merchant_slots(client, table, settings, clock)
        if in_progress:
            slots.renew(previous.slot, task.task_id)
        else:
            # The task no longer counts against the API's limit, whatever comes next.
            slots.release(previous.slot, task_id=task.task_id)
            progress = progress.model_copy(update={"slot": None})
    if task.status == ReportStatus.COMPLETED:
        add_series_dimensions(metrics, window.partition.series)
        metrics.add_metric(name=contract.REPORT_POLLS, unit="Count", value=polls)
        return progress
    if task.status == ReportStatus.FAILED:
        # The API gives no reason; everything it did say goes into the error.
        raise errors.ReportFailed(f"report task {task.task_id} FAILED: {json.dumps(asdict(task))}")
    if not in_progress:
        raise errors.UnknownReportStatus(f"report task {task.task_id} has unknown status {task.status!r}")
    if polls >= polling.MAX_POLLS:
        raise errors.ReportTimedOut(
            f"report task {task.task_id} still {task.status} after {polls} polls "
            f"(requested {task.request_time}); re-run the window later: the next run adopts the task"
        )
    return progress.model_copy(update={"wait_seconds": next_wait(window, task, previous.wait_seconds, clock())})

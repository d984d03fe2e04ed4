"""What Start report and Check report share: the merchant's task slots, with the API as the judge
of whether a task still holds one, and the wait before the next check."""

from __future__ import annotations

from datetime import datetime

from boto3.resources.base import ServiceResource

from bwp import errors, polling
from bwp.client import BwpClient, ReportTask
from bwp.clock import Clock, parse_api_time
from bwp.coordination import TaskSlots
from bwp.lake.settings import Settings
from bwp.models import Window


def merchant_slots(client: BwpClient, table: ServiceResource, settings: Settings, clock: Clock) -> TaskSlots:
    return TaskSlots(
        table,
        client.target_id,
        settings.task_slots,
        clock,
        task_in_progress=lambda task_id: _task_in_progress(client, task_id),
    )


def _task_in_progress(client: BwpClient, task_id: str) -> bool:
    try:
        return client.report_task(task_id).status in polling.IN_PROGRESS
    except errors.ResourceNotFoundException:
        return False


def next_wait(window: Window, task: ReportTask, previous_wait: int, now: datetime) -> int:
    requested_at = parse_api_time(task.request_time)
    return polling.next_wait_seconds(previous_wait, requested_at, now, window.expected_generation)

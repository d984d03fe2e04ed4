"""Report tasks: startReportTask and reportTask, the limit of tasks in progress, expiry.

A task's status is computed from the clock whenever it is asked for, so moving the clock is all
it takes to make reports finish and tasks expire.
"""

from __future__ import annotations

import math
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bwp_lake.emulator import reports
from bwp_lake.emulator.clock import Clock, iso_millis, parse_instant
from bwp_lake.emulator.config import EmulatorConfig, Merchant
from bwp_lake.emulator.faults import FaultSwitches
from bwp_lake.emulator.report_types import REPORTS
from bwp_lake.emulator.schema import api_error

MAX_IN_PROGRESS = 5  # tasks STARTED or RUNNING at once, per target id
TASK_LIFETIME = timedelta(days=7)
DEFAULT_RANGE = timedelta(days=7)
EXPIRED_TASK_MESSAGE = "Querying for an invalid or expired taskId"
# Generation time scales with the square root of the volume; generation_seconds is the time of
# one day at this many rows.
REFERENCE_ROWS_PER_DAY = 2000
RUNNING_AFTER = 0.2  # share of the generation time a task spends STARTED before RUNNING
ACCEPT_DELAY = timedelta(milliseconds=250)  # STARTED's lastUpdatedTime, after requestTime
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
_UTC_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]00:?00)$", re.IGNORECASE)


@dataclass(frozen=True)
class Task:
    task_id: str
    report_type: str
    target_id: str  # the merchant that started it: no other merchant sees it
    seed: int  # that merchant's data
    start: datetime
    end: datetime
    requested: datetime
    generation: timedelta
    fails: bool
    gzip: bool
    header_drift: str | None
    empty: bool
    bad_last_record: str | None

    def progress(self, now: datetime) -> tuple[str, datetime]:
        """(status, lastUpdatedTime) at ``now``."""
        running_at = self.requested + self.generation * RUNNING_AFTER
        done_at = self.requested + self.generation
        if now >= done_at:
            return ("FAILED" if self.fails else "COMPLETED"), done_at
        if now >= running_at:
            return "RUNNING", running_at
        return "STARTED", min(self.requested + ACCEPT_DELAY, running_at)

    def in_progress(self, now: datetime) -> bool:
        return self.progress(now)[0] in ("STARTED", "RUNNING")

    def expired(self, now: datetime) -> bool:
        return now >= self.requested + TASK_LIFETIME

    def spec(self, config: EmulatorConfig) -> reports.ReportSpec:
        return reports.ReportSpec(
            self.report_type,
            self.start,
            self.end,
            self.seed,
            config.rows_per_day,
            self.header_drift,
            self.gzip,
            self.empty,
            self.bad_last_record,
        )


def generation_time(config: EmulatorConfig, start: datetime, end: datetime) -> timedelta:
    days = (end - start) / timedelta(days=1)
    volume = math.sqrt(config.rows_per_day / REFERENCE_ROWS_PER_DAY)
    return timedelta(seconds=config.generation_seconds * days * volume)


class TaskBoard:
    """Every task started since the last reset, and the most ever in progress at once per merchant."""

    def __init__(self, config: EmulatorConfig, clock: Clock, faults: FaultSwitches) -> None:
        self.config, self.clock, self.faults = config, clock, faults
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._max_in_progress: dict[str, int] = {}  # by target id

    def start(self, request: dict[str, Any], merchant: Merchant) -> dict[str, str]:
        report_type = request["reportType"]
        if report_type not in REPORTS:
            raise api_error(
                "Validation",
                f"Invalid report type {report_type!r}; valid report types: {', '.join(REPORTS)}",
                code="InvalidReportType",
            )
        window = request.get("timeRange") or {}
        now = self.clock.now()
        end = _timestamp(window, "endDate") or now
        start = _timestamp(window, "startDate") or end - DEFAULT_RANGE
        if start >= end:
            raise api_error(
                "Validation",
                f"startDate ({iso_millis(start)}) must be before endDate ({iso_millis(end)})",
                code="InvalidDateRange",
            )
        if start < EARLIEST or end > LATEST:
            raise api_error("Validation", "Dates must fall between 1970-01-01 and 9999-01-01", code="InvalidDateRange")
        faults = self.faults.current
        with self._lock:
            in_progress = sum(
                1 for task in self._tasks.values() if task.target_id == merchant.target_id and task.in_progress(now)
            )
            if in_progress >= MAX_IN_PROGRESS:
                raise api_error(
                    "Throttling",
                    f"At most {MAX_IN_PROGRESS} report tasks may be STARTED or RUNNING "
                    "at once; wait for one to finish before starting another",
                )
            task = Task(
                task_id=f"{report_type}:{uuid.uuid4()}",
                report_type=report_type,
                target_id=merchant.target_id,
                seed=merchant.seed,
                start=start,
                end=end,
                requested=now,
                generation=generation_time(self.config, start, end),
                fails=self.faults.roll("fail_reports"),
                gzip=faults.gzip_downloads,
                header_drift=faults.header_drift,
                empty=faults.empty_reports,
                bad_last_record=faults.bad_last_record,
            )
            self._tasks[task.task_id] = task
            most = max(self._max_in_progress.get(merchant.target_id, 0), in_progress + task.in_progress(now))
            self._max_in_progress[merchant.target_id] = most
        return {"taskId": task.task_id}

    def status(self, task_id: str, target_id: str) -> dict[str, str]:
        now = self.clock.now()
        task = self.live(task_id, now, target_id)
        status, updated = task.progress(now)
        return {
            "status": status,
            "requestTime": iso_millis(task.requested),
            "lastUpdatedTime": iso_millis(updated),
            "reportType": task.report_type,
            "taskId": task.task_id,
        }

    def live(self, task_id: str, now: datetime, target_id: str) -> Task:
        """The merchant's task, or the API's error for an id that expired, never existed or is another's."""
        if (task := self.find(task_id, now)) is None or task.target_id != target_id:
            raise api_error("ResourceNotFound", EXPIRED_TASK_MESSAGE)
        return task

    def find(self, task_id: str, now: datetime) -> Task | None:
        with self._lock:
            task = self._tasks.get(task_id)
        return None if task is None or task.expired(now) else task

    def owner(self, task_id: str) -> str | None:
        """The target id of the merchant that started the task, expired or not."""
        with self._lock:
            task = self._tasks.get(task_id)
        return None if task is None else task.target_id

    def state(self, now: datetime) -> dict[str, Any]:
        with self._lock:
            tasks = sorted(self._tasks.values(), key=lambda task: task.requested)
            most = dict(self._max_in_progress)
        return {"tasks": [_task_state(task, now) for task in tasks], "maxConcurrentInProgress": most}

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._max_in_progress.clear()


def _timestamp(window: dict[str, Any], name: str) -> datetime | None:
    value = window.get(name)
    if value is None:
        return None
    message = f"{name} {value!r} is not an ISO-8601 UTC timestamp such as 2024-08-22T00:00:00Z"
    if not _UTC_TIMESTAMP.match(value):
        raise api_error("Validation", message, code="InvalidDateFormat")
    try:
        return parse_instant(value)
    except ValueError:
        raise api_error("Validation", message, code="InvalidDateFormat") from None


def _task_state(task: Task, now: datetime) -> dict[str, Any]:
    status, updated = task.progress(now)
    return {
        "taskId": task.task_id,
        "reportType": task.report_type,
        "status": status,
        "requestTime": iso_millis(task.requested),
        "lastUpdatedTime": iso_millis(updated),
        "startDate": iso_millis(task.start),
        "endDate": iso_millis(task.end),
        "targetId": task.target_id,
        "expired": task.expired(now),
    }

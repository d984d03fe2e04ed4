"""Plan windows: validate the input, check the credentials once, and plan the windows."""

from __future__ import annotations

from datetime import datetime

from botocore.client import BaseClient

from bwp import generation, runs, windows
from bwp.client import BwpClient
from bwp.gaps import landed_days, manifest_keys_in_s3
from bwp.lake.settings import Settings
from bwp.models import PlannedRun, PlanWindowsEvent
from bwp.observability import logger


def plan(client: BwpClient, s3: BaseClient, settings: Settings, event: PlanWindowsEvent) -> PlannedRun:
    """The windows asked for, then the oldest missing days since ``backfillFrom``, each with its
    report type's expected generation time; they go to the bucket, for the Map to read, and the
    state's output says where."""
    request = windows.parse_request(event.request)
    # Bad input is refused before anything is read; bad credentials fail the execution here,
    # once, instead of in every window.
    requested = windows.check_request(
        request, datetime.fromisoformat(event.execution_start_time), settings.projection_start_date
    )
    client.check_credentials()
    manifest_keys = manifest_keys_in_s3(s3, settings.lake_bucket)
    planned = windows.plan_windows(
        request,
        requested,
        landed=landed_days(manifest_keys),
        expected=generation.expected_by_type(s3, settings.lake_bucket, manifest_keys, request.planned_report_types),
    )
    location = runs.write_plan(s3, settings.lake_bucket, event.execution_name, planned.windows)
    logger.info("planned windows", extra={"windows": len(planned.windows), "plan": location.key})
    return PlannedRun.model_validate({**dict(planned), "plan": location, "windows": len(planned.windows)})

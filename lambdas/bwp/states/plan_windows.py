"""Plan windows: validate the input, check each store's credentials once, and plan the windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from boto3.resources.base import ServiceResource
from botocore.client import BaseClient

from bwp import generation, runs, windows
from bwp.client import BwpClient
from bwp.clock import Clock
from bwp.coordination import TaskLedger
from bwp.errors import BwpError
from bwp.gaps import landed_days, manifest_keys_in_s3
from bwp.lake.settings import Settings
from bwp.models import PlannedRun, PlanWindowsEvent, WindowFailed
from bwp.observability import logger


def plan(
    clients: Callable[[str], BwpClient],
    s3: BaseClient,
    table: ServiceResource,
    settings: Settings,
    clock: Clock,
    event: PlanWindowsEvent,
) -> PlannedRun:
    """For each store asked for, the windows asked for, then its oldest missing days since
    ``backfillFrom``, each with its report type's expected generation time; they go to the bucket,
    for the Map to read, and the state's output says where.

    A store whose credentials the API refuses (or whose API does not answer) is not served by
    this run: its windows are recorded as failed with that cause, in the ledger and in the run's
    summary, and the other stores' windows run as if it were not there. Only when no store can be
    served does the execution fail here."""
    request = windows.parse_request(event.request)
    # Bad input is refused before anything is read.
    requested = windows.check_request(
        request, datetime.fromisoformat(event.execution_start_time), settings.projection_start_date
    )
    stores = windows.stores_of(request, settings.stores)
    refusals = _credential_refusals(clients, [store.id for store in stores])
    manifest_keys = manifest_keys_in_s3(s3, settings.lake_bucket)
    planned = windows.plan_windows(
        request,
        requested,
        stores,
        landed=landed_days(manifest_keys),
        expected=generation.expected_by_type(s3, settings.lake_bucket, manifest_keys, request.planned_report_types),
    )
    served = [window for window in planned.windows if window.store not in refusals]
    refused = [
        WindowFailed(window=window, error=type(refusals[window.store]).__name__, cause=str(refusals[window.store]))
        for window in planned.windows
        if window.store in refusals
    ]
    # Remembered beyond this execution, so that `bwp-lake gaps` says why these days are missing.
    ledger = TaskLedger(table, clock)
    for failure in refused:
        ledger.record_failure(failure.window.partition, failure.error, failure.cause or "", event.execution_id)
    if refusals and not served:
        # As itself (named for its store), so that the state machine retries what may pass later.
        raise next(iter(refusals.values()))
    location = runs.write_plan(s3, settings.lake_bucket, event.execution_name, served)
    runs.write_refused(s3, settings.lake_bucket, event.execution_name, refused)
    logger.info(
        "planned windows",
        extra={"windows": len(served), "refused": len(refused), "plan": location.key, "stores": len(stores)},
    )
    return PlannedRun.model_validate({**dict(planned), "plan": location, "windows": len(served)})


def _credential_refusals(clients: Callable[[str], BwpClient], store_ids: list[str]) -> dict[str, BwpError]:
    """Each store's credentials checked once, instead of in every window: the stores refused, each
    with its error, named for its store."""
    refusals: dict[str, BwpError] = {}
    for store_id in store_ids:
        try:
            clients(store_id).check_credentials()
        except BwpError as error:
            refusals[store_id] = type(error)(f"store {store_id}: {error}")
            logger.warning("store not served by this run", extra={"store": store_id, "error": type(error).__name__})
    return refusals

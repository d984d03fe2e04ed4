"""What each state does. Handlers parse, call one of these, and return the result.

Each function takes its clients as arguments, so it runs the same in Lambda, on the local
engine and in tests.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

import requests
from aws_lambda_powertools.metrics import single_metric

from bwp import errors, generation, polling, runs
from bwp.aws import transient_aws_errors
from bwp.client import BwpClient, ReportTask
from bwp.clock import Clock, iso_utc, parse_api_time, seconds_between
from bwp.coordination import LedgerEntry, TaskLedger, TaskSlots
from bwp.errors import readable_cause
from bwp.gaps import Gap, find_gaps, landed_days, manifest_keys_in_s3, missing_days
from bwp.lake import contract
from bwp.lake.manifest import Download, Manifest, TaskOrigin, Timings
from bwp.lake.schemas import curated_key, manifest_key, report_key, schema_for
from bwp.lake.settings import Settings
from bwp.landing.publication import StagedWindow, discard, publish, quarantine, withdraw_unlanded
from bwp.landing.raw import LandingResult, land_download
from bwp.models import (
    WINDOW_RESULT,
    CheckReportEvent,
    LandReportEvent,
    PlannedRun,
    PlanWindowsEvent,
    ReportProgress,
    ReportStatus,
    RunReport,
    StartReportEvent,
    SummarizeEvent,
    Summary,
    Window,
    WindowFailed,
    WindowLanded,
)
from bwp.observability import logger, metrics
from bwp.windows import DEFAULT_BACKFILL_WINDOWS, parse_request, plan_windows, with_backfill

if TYPE_CHECKING:
    from bwp.landing.curated import CuratedResult

MAX_FAILURES_NAMED = 50
SUMMARY_SAMPLE = 20  # failed and drifted windows named in Summarize's output; the report has all


def plan(client: BwpClient, s3, settings: Settings, event: PlanWindowsEvent) -> PlannedRun:
    """Validate the input, check the credentials once, and plan the windows, backfill included,
    each with its report type's expected generation time; the windows go to the bucket, for the
    Map to read, and the state's output says where."""
    started = datetime.fromisoformat(event.execution_start_time)
    request = parse_request(event.request)
    result = plan_windows(request, started, settings.projection_start_date)
    # Bad credentials fail the execution here, once, instead of in every window.
    client.check_credentials()
    manifest_keys = manifest_keys_in_s3(s3, settings.lake_bucket, settings.manifests_prefix)
    if request.backfill_from is not None:
        landed = landed_days(manifest_keys)
        missing = {
            report_type: missing_days(landed.get(report_type, set()), request.backfill_from, result.first_day)
            for report_type in result.report_types
        }
        limit = DEFAULT_BACKFILL_WINDOWS if request.max_backfill_windows is None else request.max_backfill_windows
        result = with_backfill(result, missing, limit)
        logger.info(
            "backfill planned",
            extra={"missing": sum(map(len, missing.values())), "planned": result.backfilled, "limit": limit},
        )
    if result.widened:
        logger.warning(
            "timestamps widened to whole UTC days",
            extra={"first_day": str(result.first_day), "end_day": str(result.end_day)},
        )
    expected = generation.expected_by_type(s3, settings.lake_bucket, manifest_keys, result.report_types)
    windows = [
        window.model_copy(update={"expected_generation": expected.get(window.report_type)})
        for window in result.windows
    ]
    location = runs.write_plan(s3, settings.lake_bucket, event.execution_name, windows)
    logger.info("planned windows", extra={"windows": len(windows), "plan": location.key})
    return PlannedRun.model_validate({**dict(result), "plan": location, "windows": len(windows)})


def start_report(
    client: BwpClient, table, settings: Settings, clock: Clock, event: StartReportEvent
) -> ReportProgress:
    """Adopt the window's task if an earlier run left one alive; else take a slot and start one."""
    window = event.window
    now = clock()
    ledger = TaskLedger(table, clock)
    slots = _slots(client, table, settings, clock)
    holder = _slot_holder(event.execution_id, window)
    adopted = _adoptable_task(client, ledger.find(window.report_type, window.day), now)
    if adopted is not None:
        entry, task = adopted
        slot = slots.take_over(task.task_id, holder) if task.status in polling.IN_PROGRESS else None
        logger.info(
            "report task adopted",
            extra={"task_id": task.task_id, "day": str(window.day), "status": task.status,
                   "started_by": entry.started_by},
        )
        return ReportProgress(
            task_id=task.task_id,
            report_type=window.report_type,
            status=task.status,
            request_time=task.request_time,
            last_updated_time=task.last_updated_time,
            wait_seconds=0 if task.status == ReportStatus.COMPLETED else _next_wait(window, task, 0, now),
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
    ledger.record_started(window.report_type, window.day, task_id, event.execution_id, event.attempt)
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


def _slots(client: BwpClient, table, settings: Settings, clock: Clock) -> TaskSlots:
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


def _slot_holder(execution_id: str, window: Window) -> str:
    """One holder per window of an execution: a restarted window keeps its slot."""
    return f"{execution_id}#{window.report_type}#{window.day}"


def check_report(
    client: BwpClient, table, settings: Settings, clock: Clock, event: CheckReportEvent
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
        TaskLedger(table, clock).record_status(window.report_type, window.day, task.task_id, task.status)
    if previous.slot is not None:
        slots = _slots(client, table, settings, clock)
        if in_progress:
            slots.renew(previous.slot, task.task_id)
        else:
            # The task no longer counts against the API's limit, whatever comes next.
            slots.release(previous.slot, task_id=task.task_id)
            progress = progress.model_copy(update={"slot": None})
    if task.status == ReportStatus.COMPLETED:
        metrics.add_dimension(name="ReportType", value=previous.report_type)
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
    return progress.model_copy(update={"wait_seconds": _next_wait(window, task, previous.wait_seconds, clock())})


def _next_wait(window: Window, task: ReportTask, previous_wait: int, now: datetime) -> int:
    requested_at = parse_api_time(task.request_time)
    return polling.next_wait_seconds(previous_wait, requested_at, now, window.expected_generation)


def land_report(
    client: BwpClient,
    s3,
    table,
    session: requests.Session,
    settings: Settings,
    clock: Clock,
    event: LandReportEvent,
) -> WindowLanded:
    window, report = event.window, event.report
    schema = schema_for(window.report_type)
    day = window.day.isoformat()
    key = report_key(settings.reports_prefix, window.report_type, day)
    curated_object = curated_key(settings.curated_prefix, window.report_type, day)
    # Both objects are made under staging/, which no table reads, and published together just
    # before the manifest: a day that does not land is never visible in a table location.
    staged = StagedWindow.for_attempt(settings, window.report_type, day, report.task_id)
    started, clock_started = clock(), time.monotonic()
    # A fresh link right before the download: links live minutes (some only seconds).
    with transient_aws_errors(f"landing {staged.raw}"):
        landed = land_download(
            s3=s3,
            bucket=settings.lake_bucket,
            key=staged.raw,
            download_link=lambda: client.report_download_link(report.task_id),
            session=session,
            timeout=settings.timeout,
            allowed_hosts=settings.download_host_allowlist,
            plain_http_on_loopback=settings.download_plain_http_on_loopback,
            expected_columns=schema.column_names,
        )
    landing_seconds = round(time.monotonic() - clock_started, 3)
    try:
        curated = _curate(s3, table, settings, clock, window, report.task_id, staged, landed)
        with transient_aws_errors(f"publishing {key}"):
            publish(s3, settings.lake_bucket, {staged.raw: key, staged.curated: curated_object})
    except BaseException:
        discard(s3, settings.lake_bucket, staged.raw, staged.curated)
        raise
    curated = dataclasses.replace(curated, key=curated_object)
    curated_seconds = round(time.monotonic() - clock_started - landing_seconds, 3)
    generation_seconds = seconds_between(report.request_time, report.last_updated_time)
    manifest = Manifest(
        report_type=window.report_type,
        day=day,
        task_id=report.task_id,
        key=key,
        rows=landed.rows,
        bytes_in=landed.bytes_in,
        bytes_out=landed.bytes_out,
        sha256=landed.sha256,
        columns=list(landed.columns),
        expected_columns=list(schema.column_names),
        provisional_schema=schema.provisional,
        drift=landed.drift,
        curated=curated.to_manifest(),
        landed_at=iso_utc(clock()),
        timings=Timings(
            requested_at=report.request_time,
            completed_at=report.last_updated_time,
            generation_seconds=generation_seconds,
            polls=report.polls,
            landing_started_at=iso_utc(started),
            landing_seconds=landing_seconds,
            curated_seconds=curated_seconds,
        ),
        download=Download(
            source_gzip=landed.source_gzip,
            link_refreshes=landed.link_refreshes,
            resumes=landed.resumes,
            parts=landed.parts,
        ),
        attempts=event.attempt,
        execution_id=event.execution_id,
        task=TaskOrigin(adopted=report.adopted, started_by=report.started_by),
    )
    manifest_object = manifest_key(settings.manifests_prefix, window.report_type, day)
    with transient_aws_errors(f"writing {manifest_object}"):
        s3.put_object(
            Bucket=settings.lake_bucket,
            Key=manifest_object,
            Body=manifest.to_json_line(),
            ContentType="application/json",
        )
    discard(s3, settings.lake_bucket, staged.raw, staged.curated)
    TaskLedger(table, clock).record_status(window.report_type, window.day, report.task_id, ReportStatus.LANDED)
    if landed.drift:
        logger.error(
            "report header differs from the registry; landed anyway",
            extra={
                "report_type": window.report_type,
                "day": day,
                "drift": landed.drift,
                "curated_extra_columns": list(curated.extra_columns),
            },
        )
    if curated.invalid_utf8_values:
        logger.warning(
            "values of the report that are not UTF-8 are mended with U+FFFD in the curated file",
            extra={"report_type": window.report_type, "day": day, "values": curated.invalid_utf8_values},
        )
    if curated.rows_skipped:
        logger.warning(
            "records of the report that are not rows of its header's width are not in the curated file",
            extra={"report_type": window.report_type, "day": day, "rows_skipped": curated.rows_skipped},
        )
    _emit_landing_metrics(window.report_type, landed.rows, landed.bytes_out, generation_seconds)
    return WindowLanded(
        report_type=window.report_type,
        day=window.day,
        rows=landed.rows,
        bytes_out=landed.bytes_out,
        drift=landed.drift,
        attempts=event.attempt,
    )


def _curate(s3, table, settings: Settings, clock: Clock, window: Window, task_id: str, staged: StagedWindow,
            landed: LandingResult) -> CuratedResult:
    """The staged raw report's typed Parquet file, staged beside it. A report that cannot be
    curated is moved under quarantine/, and the ledger and the error name where."""
    # Imported here: every function imports this module, and only this step needs pyarrow
    # (about 0.1 s of cold start, benchmarks/BENCHMARKS.md).
    from bwp.landing.curated import write_curated

    try:
        with transient_aws_errors(f"writing {staged.curated}"):
            return write_curated(
                s3=s3,
                bucket=settings.lake_bucket,
                source_key=staged.raw,
                key=staged.curated,
                schema=schema_for(window.report_type),
                header=landed.columns,
                raw_rows=landed.rows,
            )
    except errors.CuratedWriteFailed as failure:
        with transient_aws_errors(f"quarantining {staged.raw}"):
            kept = quarantine(s3, settings.lake_bucket, staged)
        TaskLedger(table, clock).record_quarantine(window.report_type, window.day, task_id, kept)
        raise errors.CuratedWriteFailed(
            f"the report as served is kept at s3://{settings.lake_bucket}/{kept}; it did not land: {failure}"
        ) from None


def summarize(s3, table, settings: Settings, clock: Clock, event: SummarizeEvent) -> Summary:
    """Every planned window's outcome, from the Map's result files: landed, failed in a way the
    child caught, failed in a way it could not (its execution failed, timed out or was stopped),
    or never run. Failures go to the ledger; the full report goes to the bucket."""
    landed, failed = window_outcomes(s3, event)
    ledger = TaskLedger(table, clock)
    # Remembered beyond this execution, so that `bwp-lake gaps` can say why a day is missing.
    for failure in failed:
        ledger.record_failure(
            failure.window.report_type,
            failure.window.day,
            failure.error,
            readable_cause(failure.cause),
            event.execution_id,
        )
    failure_lines = sorted(
        f"{f.window.report_type} {f.window.day}: FAILED after {f.attempts} attempt(s): {f.error}: "
        f"{readable_cause(f.cause)}"
        for f in failed
    )
    lines = sorted(
        [
            f"{r.report_type} {r.day}: landed {r.rows} rows, {r.bytes_out} bytes"
            + (f" (header drift: {json.dumps(r.drift)})" if r.drift else "")
            for r in landed
        ]
        + failure_lines
    )
    windows = len(landed) + len(failed)
    if failed:
        # The message becomes the execution's cause, which Step Functions caps at 32,768 characters.
        named = failed[:MAX_FAILURES_NAMED]
        names = "; ".join(
            f"{f.window.report_type} {f.window.day} ({f.error}: {readable_cause(f.cause)[:200]})" for f in named
        )
        more = f"; and {len(failed) - len(named)} more" if len(failed) > len(named) else ""
        message = f"{len(failed)} of {windows} windows failed: {names}{more}"
    else:
        message = f"all {len(landed)} windows landed"
    landed_now = landed_days(manifest_keys_in_s3(s3, settings.lake_bucket, settings.manifests_prefix))
    with transient_aws_errors("taking objects of days that did not land out of the tables"):
        withdraw_unlanded(s3, settings, landed_now, event.report_types, clock())
    gaps = find_gaps(landed_now, event.report_types, event.coverage_from, event.end_day)
    _emit_gap_metrics(event.report_types, gaps)
    if gaps:
        message += f"; {len(gaps)} partition(s) since {event.coverage_from} still missing (bwp-lake gaps lists them)"
    drifted = sorted(f"{r.report_type} {r.day}" for r in landed if r.drift)
    report = RunReport(
        execution_id=event.execution_id,
        windows=windows,
        landed=len(landed),
        failed=len(failed),
        rows=sum(r.rows for r in landed),
        bytes_out=sum(r.bytes_out for r in landed),
        message=message,
        missing=len(gaps),
        drifted=drifted,
        lines=lines,
    )
    location = runs.write_report(s3, settings.lake_bucket, event.execution_name, report)
    return Summary(
        **report.model_dump(exclude={"drifted", "lines"}),
        drifted=drifted[:SUMMARY_SAMPLE],
        failures=failure_lines[:SUMMARY_SAMPLE],
        report=location,
    )


def window_outcomes(s3, event: SummarizeEvent) -> tuple[list[WindowLanded], list[WindowFailed]]:
    """Each planned window once: its child's result, or a failure saying why there is none."""
    unaccounted = {(window.report_type, window.day): window for window in runs.read_plan(s3, event.plan)}
    landed: list[WindowLanded] = []
    failed: list[WindowFailed] = []
    for child in runs.child_results(s3, event.map_results):
        window = _window_of(child)
        if window is None or unaccounted.pop((window.report_type, window.day), None) is None:
            continue  # not a window of this plan, or one already counted
        outcome = _outcome_of(child, window)
        (landed if isinstance(outcome, WindowLanded) else failed).append(outcome)
    failed.extend(
        WindowFailed(window=window, error=NO_RESULT, cause="the Map recorded no result for this window")
        for window in unaccounted.values()
    )
    return landed, failed


# Error names of windows whose child execution did not end with an answer of ours.
NOT_STARTED = "WindowNotStarted"  # PENDING: the map run ended before starting it
NO_RESULT = "WindowWithoutResult"  # planned, but in none of the result files


def _window_of(child: runs.ChildResult) -> Window | None:
    try:
        return Window.model_validate(child.input["window"])
    except (TypeError, KeyError, ValueError):
        logger.warning("a map result without a window", extra={"status": child.status})
        return None


def _outcome_of(child: runs.ChildResult, window: Window) -> WindowLanded | WindowFailed:
    attempts = child.input.get("attempt", 1) if isinstance(child.input, dict) else 1
    if child.status == "SUCCEEDED":
        try:
            return WINDOW_RESULT.validate_python(child.output)
        except ValueError as error:
            return WindowFailed(window=window, error="UnreadableWindowResult", cause=str(error)[:500],
                                attempts=attempts)
    if child.status == "PENDING":
        return WindowFailed(window=window, error=NOT_STARTED, cause="the map run ended before this window started")
    # FAILED, TIMED_OUT or ABORTED: the child's Catch did not apply, so the error is the execution's.
    return WindowFailed(
        window=window,
        error=child.error or f"Execution{child.status.title().replace('_', '')}",
        cause=child.cause,
        attempts=attempts,
    )


def _emit_gap_metrics(report_types: list[str], gaps: list[Gap]) -> None:
    """One PartitionsMissing datapoint per report type, zero included, so the gap alarm can clear."""
    for report_type in report_types:
        missing = sum(1 for gap in gaps if gap.report_type == report_type)
        # A metric set has one set of dimensions: each report type's count is a metric of its own.
        with single_metric(
            name=contract.PARTITIONS_MISSING, unit="Count", value=missing, namespace=contract.NAMESPACE,
            default_dimensions={"service": contract.SERVICE},
        ) as metric:
            metric.add_dimension(name="ReportType", value=report_type)


def _emit_landing_metrics(report_type: str, rows: int, bytes_out: int, generation_seconds: float | None) -> None:
    metrics.add_dimension(name="ReportType", value=report_type)
    metrics.add_metric(name=contract.ROWS_LANDED, unit="Count", value=rows)
    metrics.add_metric(name=contract.BYTES_LANDED, unit="Bytes", value=bytes_out)
    metrics.add_metric(name=contract.PARTITIONS_LANDED, unit="Count", value=1)
    if generation_seconds is not None:
        metrics.add_metric(name=contract.REPORT_GENERATION_SECONDS, unit="Seconds", value=generation_seconds)


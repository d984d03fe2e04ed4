"""Land report: the report streamed into its raw object under staging/ and, as it passes, typed
into its Parquet data file (at its own, final key in the curated table's location), the manifest
staged beside the raw object. Nothing is published here: *Commit curated tables* commits the data
files of every landed window after the Map, and only then publishes each day's raw report and manifest.

The only state that imports the landing path, and with it pyarrow: only land_report's function
runs from the bundle that carries it."""

from __future__ import annotations

import time

import requests
from boto3.resources.base import ServiceResource
from botocore.client import BaseClient

from bwp import errors
from bwp.aws import transient_aws_errors
from bwp.client import BwpClient
from bwp.clock import Clock, iso_utc, seconds_between
from bwp.coordination import TaskLedger
from bwp.lake import contract
from bwp.lake.manifest import CuratedFile, Download, Drift, Manifest, TaskOrigin, Timings
from bwp.lake.partition import Partition, Series
from bwp.lake.schemas import schema_for
from bwp.lake.settings import Settings
from bwp.landing.curated import CuratedResult, CuratedStream
from bwp.landing.publication import StagedWindow, discard, quarantine
from bwp.landing.raw import LandingResult, land_download
from bwp.models import LandReportEvent, WindowLanded
from bwp.observability import add_series_dimensions, logger, metrics


def land_report(
    *,
    client: BwpClient,
    s3: BaseClient,
    table: ServiceResource,
    session: requests.Session,
    settings: Settings,
    clock: Clock,
    event: LandReportEvent,
) -> WindowLanded:
    window, report = event.window, event.report
    schema = schema_for(window.report_type)
    partition = window.partition
    day = window.day.isoformat()
    ledger = TaskLedger(table, clock)
    # The raw report and the manifest are made under staging/, which no table reads, the data
    # file under a key no snapshot lists yet: a day that does not land is never visible.
    staged = StagedWindow.for_attempt(partition, report.task_id)
    started, clock_started = clock(), time.monotonic()
    # A fresh link right before the download: links live minutes (some only seconds). The curated
    # file is typed from the text as it passes, in a thread beside the raw object's compression.
    with transient_aws_errors(f"landing {staged.raw}"):
        curating = CuratedStream(s3=s3, bucket=settings.lake_bucket, key=staged.data, schema=schema)
        try:
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
                also_to=curating,
            )
        except BaseException:
            curating.abort()
            raise
    landing_seconds = round(time.monotonic() - clock_started, 3)
    try:
        curated = _curate(s3, ledger, settings.lake_bucket, partition, report.task_id, curating, staged, landed)
    except BaseException:
        discard(s3, settings.lake_bucket, staged.raw, staged.data)
        raise
    curated_seconds = round(time.monotonic() - clock_started - landing_seconds, 3)
    generation_seconds = seconds_between(report.request_time, report.last_updated_time)
    manifest = Manifest(
        store=window.store,
        target_id=client.target_id,
        report_type=window.report_type,
        day=day,
        task_id=report.task_id,
        key=partition.raw_key,
        rows=landed.rows,
        bytes_in=landed.bytes_in,
        bytes_out=landed.bytes_out,
        sha256=landed.sha256,
        columns=list(landed.columns),
        expected_columns=list(schema.column_names),
        provisional_schema=schema.provisional,
        drift=Drift.model_validate(landed.drift) if landed.drift else None,
        curated=CuratedFile.model_validate(curated.to_manifest()),
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
    try:
        with transient_aws_errors(f"writing {staged.manifest}"):
            s3.put_object(
                Bucket=settings.lake_bucket,
                Key=staged.manifest,
                Body=manifest.to_json_line(),
                ContentType="application/json",
            )
    except BaseException:
        discard(s3, settings.lake_bucket, staged.raw, staged.data)
        raise
    _log_what_the_tables_do_not_show(partition, landed, curated)
    _emit_generation_metrics(window.partition.series, generation_seconds)
    return WindowLanded(
        store=window.store,
        report_type=window.report_type,
        day=window.day,
        rows=landed.rows,
        bytes_out=landed.bytes_out,
        drift=landed.drift,
        attempts=event.attempt,
        task_id=report.task_id,
        raw_sha256=landed.sha256,
        staged_raw_key=staged.raw,
        staged_manifest_key=staged.manifest,
        data_key=staged.data,
    )


def _curate(
    s3: BaseClient,
    ledger: TaskLedger,
    bucket: str,
    partition: Partition,
    task_id: str,
    curating: CuratedStream,
    staged: StagedWindow,
    landed: LandingResult,
) -> CuratedResult:
    """The staged raw report's typed Parquet data file, at its key in the table's location, once
    its typing has caught up with the landing. A report that cannot be curated is moved under
    quarantine/, and the ledger and the error name where."""
    try:
        with transient_aws_errors(f"writing {staged.data}"):
            return curating.finish(landed.rows, source=staged.raw)
    except errors.CuratedWriteFailed as failure:
        with transient_aws_errors(f"quarantining {staged.raw}"):
            kept = quarantine(s3, bucket, staged)
        ledger.record_quarantine(partition, task_id, kept)
        raise errors.CuratedWriteFailed(
            f"the report as served is kept at s3://{bucket}/{kept}; it did not land: {failure}"
        ) from None


def _log_what_the_tables_do_not_show(partition: Partition, landed: LandingResult, curated: CuratedResult) -> None:
    """The landed day's drift, mended text and skipped records, which a table shows only as NULLs."""
    where = {"store": partition.store, "report_type": partition.report_type, "day": partition.day.isoformat()}
    if landed.drift:
        logger.error(
            "report header differs from the registry; landed anyway",
            extra={**where, "drift": landed.drift, "curated_extra_columns": list(curated.extra_columns)},
        )
    if curated.invalid_utf8_values:
        logger.warning(
            "values of the report that are not UTF-8 are mended with U+FFFD in the curated file",
            extra={**where, "values": curated.invalid_utf8_values},
        )
    if curated.rows_skipped:
        logger.warning(
            "records of the report that are not rows of its header's width are not in the curated file",
            extra={**where, "rows_skipped": curated.rows_skipped},
        )


def _emit_generation_metrics(series: Series, generation_seconds: float | None) -> None:
    # What landed (rows, bytes, partitions) is counted by the commit, which makes a day landed.
    if generation_seconds is not None:
        add_series_dimensions(metrics, series)
        metrics.add_metric(name=contract.REPORT_GENERATION_SECONDS, unit="Seconds", value=generation_seconds)

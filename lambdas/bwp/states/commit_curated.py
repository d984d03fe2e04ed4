"""Commit curated tables: after the Map, the one writer of the curated Iceberg tables.

Windows stream their typed data files in parallel; committing them there would make five writers
race for every table. Here, per table, one commit replaces every day of the run that landed, in
one snapshot (``bwp.iceberg.commit.replace_days``). Only a committed day is published: its raw
report is copied into ``reports/``, then its manifest into ``manifests/`` (what makes the day
landed), then the staged copies go and the ledger records the task LANDED.

A crash anywhere leaves a state that a retry of this state (or a later run of the day) mends: a
retry re-applies the commit, which finds the days already in place, and publishes what is still
staged; a window whose staged manifest is gone was published by an earlier attempt. A commit
that lost its race on every in-process attempt raises ``CuratedCommitConflict``, which the state
machine retries; the tables that did commit are published first, so a retry redoes only the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from aws_lambda_powertools.metrics import MetricUnit
from boto3.resources.base import ServiceResource
from botocore.client import BaseClient

from bwp import runs
from bwp.aws import object_exists, transient_aws_errors
from bwp.clock import Clock
from bwp.coordination import TaskLedger
from bwp.errors import CuratedCommitConflict
from bwp.iceberg.catalog import LakeCatalog
from bwp.iceberg.commit import LandedDay, replace_days
from bwp.iceberg.maintenance import expire_snapshots
from bwp.lake import contract
from bwp.lake.partition import Partition, Series
from bwp.lake.settings import Settings
from bwp.landing.publication import discard, publish
from bwp.models import WINDOW_RESULT, CommitCuratedEvent, CuratedCommit, ReportStatus, TableCommit, WindowLanded
from bwp.observability import emit_series_metric, logger


def commit_curated(
    *,
    s3: BaseClient,
    table: ServiceResource,
    catalog: LakeCatalog,
    settings: Settings,
    clock: Clock,
    event: CommitCuratedEvent,
) -> CuratedCommit:
    """Commit each table's landed days, publish them, then expire the tables' old snapshots.

    Raises the first table's failure once every other table is committed and published:
    ``CuratedCommitConflict`` before any other, as the one the state machine retries at length."""
    bucket = settings.lake_bucket
    by_type: dict[str, list[WindowLanded]] = defaultdict(list)
    for window in _still_staged(s3, bucket, _landed_windows(s3, event)):
        by_type[window.report_type].append(window)
    ledger = TaskLedger(table, clock)
    commits: list[TableCommit] = []
    failures: list[Exception] = []
    published = 0
    for report_type, windows in sorted(by_type.items()):
        days = [
            LandedDay(w.store, w.day, task_id=w.task_id, raw_sha256=w.raw_sha256, data_keys=(w.data_key,))
            for w in windows
        ]
        try:
            result = replace_days(catalog, report_type, days)
        except Exception as error:  # noqa: BLE001 - the other tables still commit; raised below
            logger.error("a curated table's commit failed", extra={"report_type": report_type, "error": repr(error)})
            failures.append(error)
            continue
        for window in windows:
            _publish(s3, bucket, window)
            ledger.record_status(window.partition, window.task_id, ReportStatus.LANDED)
        published += len(windows)
        _emit_landed_metrics(windows)
        commits.append(
            TableCommit(
                report_type=report_type,
                snapshot_id=result.snapshot_id,
                days_replaced=len(result.replaced),
                days_in_place=len(result.already_in_place),
                attempts=result.attempts,
            )
        )
    if failures:
        raise next((f for f in failures if isinstance(f, CuratedCommitConflict)), failures[0])
    return CuratedCommit(published=published, tables=[_expire(catalog, settings, clock, commit) for commit in commits])


def _landed_windows(s3: BaseClient, event: CommitCuratedEvent) -> Iterable[WindowLanded]:
    """Every window the Map's children landed, once (the first result of a partition wins)."""
    seen: set[Partition] = set()
    for child in runs.child_results(s3, event.map_results):
        if child.status != "SUCCEEDED":
            continue
        try:
            outcome = WINDOW_RESULT.validate_python(child.output)
        except ValueError:
            continue  # Summarize names it (UnreadableWindowResult)
        if isinstance(outcome, WindowLanded) and outcome.partition not in seen:
            seen.add(outcome.partition)
            yield outcome


def _still_staged(s3: BaseClient, bucket: str, windows: Iterable[WindowLanded]) -> Iterable[WindowLanded]:
    """The windows not yet published: an earlier attempt of this state deleted the staged
    manifest of each one it published."""
    for window in windows:
        with transient_aws_errors(f"looking for {window.staged_manifest_key}"):
            staged = object_exists(s3, bucket, window.staged_manifest_key)
        if staged:
            yield window


def _publish(s3: BaseClient, bucket: str, window: WindowLanded) -> None:
    """The committed day's raw report into its table location, then its manifest: from then on
    the day is landed. The staged manifest goes first: once it is gone, the window counts as
    published (a leftover staged report expires by itself)."""
    partition = window.partition
    with transient_aws_errors(f"publishing {partition.raw_key}"):
        publish(s3, bucket, {window.staged_raw_key: partition.raw_key})
        publish(s3, bucket, {window.staged_manifest_key: partition.manifest_key})
    discard(s3, bucket, window.staged_manifest_key, window.staged_raw_key)


def _emit_landed_metrics(windows: list[WindowLanded]) -> None:
    per_series: dict[Series, list[WindowLanded]] = defaultdict(list)
    for window in windows:
        per_series[window.partition.series].append(window)
    for series, landed in per_series.items():
        emit_series_metric(contract.PARTITIONS_LANDED, series, len(landed), MetricUnit.Count)
        emit_series_metric(contract.ROWS_LANDED, series, sum(w.rows for w in landed), MetricUnit.Count)
        emit_series_metric(contract.BYTES_LANDED, series, sum(w.bytes_out for w in landed), MetricUnit.Bytes)


def _expire(catalog: LakeCatalog, settings: Settings, clock: Clock, commit: TableCommit) -> TableCommit:
    """Each committed table's snapshots older than the retention, forgotten, after its commit:
    the table is written once a run, so this bounds it run by run. A failed expiry is logged and
    left for the next run; the days are committed either way."""
    try:
        expiry = expire_snapshots(catalog, commit.report_type, now=clock(), retention=settings.snapshot_retention)
    except Exception as error:  # noqa: BLE001 - maintenance never fails a run that landed
        logger.warning(
            "snapshot expiry left for the next run", extra={"report_type": commit.report_type, "error": repr(error)}
        )
        return commit
    return commit.model_copy(update={"snapshots_expired": expiry.snapshots_expired})

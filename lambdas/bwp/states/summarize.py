"""Summarize the run: every planned window's outcome from the Map's result files and the commit,
failures into the ledger, objects of days that did not land taken out of the tables, and the
partitions still missing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit
from boto3.resources.base import ServiceResource
from botocore.client import BaseClient

from bwp import runs
from bwp.aws import object_exists, transient_aws_errors
from bwp.clock import Clock
from bwp.coordination import TaskLedger
from bwp.errors import readable_cause
from bwp.freshness import hours_since, last_landings
from bwp.gaps import Gap, find_gaps, landed_days, manifests_in_s3
from bwp.lake import contract
from bwp.lake.partition import Series
from bwp.lake.settings import Settings
from bwp.landing.publication import withdraw_unlanded
from bwp.models import (
    WINDOW_RESULT,
    CommitOutcome,
    RunReport,
    SummarizeEvent,
    Summary,
    Window,
    WindowFailed,
    WindowLanded,
)
from bwp.observability import emit_series_metric, logger

MAX_FAILURES_NAMED = 50
SUMMARY_SAMPLE = 20  # failed and drifted windows named in Summarize's output; the report has all


def summarize(
    s3: BaseClient, table: ServiceResource, settings: Settings, clock: Clock, event: SummarizeEvent
) -> Summary:
    """Every planned window's outcome, from the Map's result files: landed, failed in a way the
    child caught, failed in a way it could not (its execution failed, timed out or was stopped),
    or never run; a window that landed counts as landed only once *Commit curated tables*
    committed and published it. Failures go to the ledger; the full report goes to the bucket."""
    landed, failed = window_outcomes(s3, event, uncommitted=_uncommitted(s3, settings.lake_bucket, event.commit))
    # The windows of stores Plan windows could not serve (their credentials refused, their API down).
    failed.extend(runs.read_refused(s3, settings.lake_bucket, event.execution_name))
    ledger = TaskLedger(table, clock)
    # Remembered beyond this execution, so that `bwp-lake gaps` can say why a day is missing.
    for failure in failed:
        ledger.record_failure(
            failure.window.partition,
            failure.error,
            readable_cause(failure.cause),
            event.execution_id,
        )
    failure_lines = sorted(
        f"{f.window.partition}: FAILED after {f.attempts} attempt(s): {f.error}: {readable_cause(f.cause)}"
        for f in failed
    )
    lines = sorted(
        [
            f"{r.store} {r.report_type} {r.day}: landed {r.rows} rows, {r.bytes_out} bytes"
            + (f" (header drift: {json.dumps(r.drift)})" if r.drift else "")
            for r in landed
        ]
        + failure_lines
    )
    windows = len(landed) + len(failed)
    if failed:
        # The message becomes the execution's cause, which Step Functions caps at 32,768 characters.
        named = failed[:MAX_FAILURES_NAMED]
        names = "; ".join(f"{f.window.partition} ({f.error}: {readable_cause(f.cause)[:200]})" for f in named)
        more = f"; and {len(failed) - len(named)} more" if len(failed) > len(named) else ""
        message = f"{len(failed)} of {windows} windows failed ({_per_store(event, landed, failed)}): {names}{more}"
    else:
        message = f"all {len(landed)} windows landed"
    manifests = manifests_in_s3(s3, settings.lake_bucket)
    landed_now = landed_days(item["Key"] for item in manifests)
    series = [one for store in event.stores for one in store.series]
    with transient_aws_errors("taking objects of days that did not land out of the tables"):
        withdraw_unlanded(s3, settings, landed_now, series, clock())
    gaps = find_gaps(landed_now, series, event.coverage_from, event.end_day)
    _emit_gap_metrics(series, gaps)
    _emit_freshness_metrics(series, manifests, clock())
    if gaps:
        message += f"; {len(gaps)} partition(s) since {event.coverage_from} still missing (bwp-lake gaps lists them)"
    drifted = sorted(f"{r.store} {r.report_type} {r.day}" for r in landed if r.drift)
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


def window_outcomes(
    s3: BaseClient, event: SummarizeEvent, uncommitted: Callable[[WindowLanded], bool] = lambda landed: False
) -> tuple[list[WindowLanded], list[WindowFailed]]:
    """Each planned window once: its child's result, or a failure saying why there is none; a
    landed window that is ``uncommitted`` failed with the commit's error."""
    unaccounted = {window.partition: window for window in runs.read_plan(s3, event.plan)}
    landed: list[WindowLanded] = []
    failed: list[WindowFailed] = []
    for child in runs.child_results(s3, event.map_results):
        window = _window_of(child)
        if window is None or unaccounted.pop(window.partition, None) is None:
            continue  # not a window of this plan, or one already counted
        outcome = _outcome_of(child, window)
        if isinstance(outcome, WindowLanded) and uncommitted(outcome):
            outcome = WindowFailed(
                window=window,
                error=event.commit.error or COMMIT_FAILED,
                cause=f"the day landed but was not committed to its curated table: {event.commit.cause}",
                attempts=outcome.attempts,
            )
        if isinstance(outcome, WindowLanded):
            landed.append(outcome)
        else:
            failed.append(outcome)
    failed.extend(
        WindowFailed(window=window, error=NO_RESULT, cause="the Map recorded no result for this window")
        for window in unaccounted.values()
    )
    return landed, failed


def _uncommitted(s3: BaseClient, bucket: str, commit: CommitOutcome) -> Callable[[WindowLanded], bool]:
    """Which landed windows the commit left unpublished: none when it succeeded; when it failed,
    those whose staged manifest is still there (publishing a day deletes it last)."""
    if commit.error is None:
        return lambda landed: False

    def still_staged(landed: WindowLanded) -> bool:
        with transient_aws_errors(f"looking for {landed.staged_manifest_key}"):
            return object_exists(s3, bucket, landed.staged_manifest_key)

    return still_staged


# Error names of windows whose child execution did not end with an answer of ours.
COMMIT_FAILED = "CuratedCommitFailed"  # the commit state failed without naming an error
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
            return WindowFailed(
                window=window, error="UnreadableWindowResult", cause=str(error)[:500], attempts=attempts
            )
    if child.status == "PENDING":
        return WindowFailed(window=window, error=NOT_STARTED, cause="the map run ended before this window started")
    # FAILED, TIMED_OUT or ABORTED: the child's Catch did not apply, so the error is the execution's.
    return WindowFailed(
        window=window,
        error=child.error or f"Execution{child.status.title().replace('_', '')}",
        cause=child.cause,
        attempts=attempts,
    )


def _per_store(event: SummarizeEvent, landed: list[WindowLanded], failed: list[WindowFailed]) -> str:
    """Each store's own outcome, so that a healthy store's run reads as one."""
    outcome = []
    for store in (scope.store for scope in event.stores):
        failures = sum(1 for f in failed if f.window.store == store)
        landings = sum(1 for r in landed if r.store == store)
        outcome.append(
            f"{store}: {landings} landed, {failures} failed" if failures else f"{store}: all {landings} landed"
        )
    return "; ".join(outcome)


def _emit_gap_metrics(series: list[Series], gaps: list[Gap]) -> None:
    """One PartitionsMissing datapoint per series, zero included, so the gap alarm can clear."""
    missing = Counter(Series(gap.store, gap.report_type) for gap in gaps)
    for one in series:
        emit_series_metric(contract.PARTITIONS_MISSING, one, missing[one], MetricUnit.Count)


def _emit_freshness_metrics(series: list[Series], manifests: list[dict], now: datetime) -> None:
    """Hours since each series last landed; nothing for one that never did, so that a new store's
    freshness alarm stays quiet until its first landing."""
    newest = last_landings(manifests)
    for one in series:
        hours = hours_since(newest.get(one), now)
        if hours is not None:
            emit_series_metric(contract.HOURS_SINCE_LAST_LANDING, one, hours, MetricUnit.NoUnit)

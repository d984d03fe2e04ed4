"""How long the API takes to generate each report type, learned from the lake's manifests.

A manifest records its report's generation time (``timings.generationSeconds``: requested to
completed, in the API's own times) and its rows. The window's own rows are unknown until its
report exists, so the expectation is the recent seconds per row times the recent rows per day:
typically the median rate, at the earliest the fastest one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median

from botocore.exceptions import ClientError

from bwp.aws import transient_aws_errors
from bwp.lake.partition import Partition
from bwp.models import ExpectedGeneration
from bwp.observability import logger

RECENT_DAYS = 14  # per report type: recent enough to follow the API, enough to smooth outliers
# Fewer samples than this and one slow day would set every wait: the plain growth is safer.
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Sample:
    generation_seconds: float
    rows: int


def expected_generation(samples: Iterable[Sample]) -> ExpectedGeneration | None:
    """The next report's typical and shortest likely generation time, or None without enough
    history: the recent seconds per row (median, and fastest) times the recent rows per day."""
    usable = [sample for sample in samples if sample.generation_seconds > 0]
    if len(usable) < MIN_SAMPLES:
        return None
    with_rows = [sample for sample in usable if sample.rows > 0]
    if len(with_rows) < MIN_SAMPLES:
        seconds = [sample.generation_seconds for sample in usable]
        return ExpectedGeneration(typical_seconds=round(median(seconds), 1), earliest_seconds=round(min(seconds), 1))
    rates = [sample.generation_seconds / sample.rows for sample in with_rows]
    rows = median(sample.rows for sample in with_rows)
    return ExpectedGeneration(
        typical_seconds=round(median(rates) * rows, 1), earliest_seconds=round(min(rates) * rows, 1)
    )


def sample_of(manifest: object) -> Sample | None:
    """A manifest's generation time and rows, or None if it lacks them (older or foreign
    manifests inform the waits; they never fail a run)."""
    if not isinstance(manifest, dict):
        return None
    timings = manifest.get("timings")
    seconds = timings.get("generationSeconds") if isinstance(timings, dict) else None
    rows = manifest.get("rows")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return None
    return Sample(float(seconds), rows if isinstance(rows, int) and not isinstance(rows, bool) else 0)


def recent_manifest_keys(manifest_keys: Iterable[str], report_type: str, limit: int = RECENT_DAYS) -> list[str]:
    """The ``limit`` latest days' manifest keys of one report type."""
    dated = []
    for key in manifest_keys:
        partition = Partition.of_manifest_key(key)
        if partition is not None and partition.report_type == report_type:
            dated.append((partition.day, key))
    return [key for _, key in sorted(dated)[-limit:]]


def expected_by_type(
    s3, bucket: str, manifest_keys: list[str], report_types: Iterable[str]
) -> dict[str, ExpectedGeneration]:
    """Report type -> its expected generation, for the types with enough history."""
    expected: dict[str, ExpectedGeneration] = {}
    for report_type in report_types:
        samples = [
            sample
            for key in recent_manifest_keys(manifest_keys, report_type)
            if (sample := sample_of(_read_json(s3, bucket, key))) is not None
        ]
        expectation = expected_generation(samples)
        if expectation is not None:
            expected[report_type] = expectation
    logger.info(
        "expected generation from the manifests",
        extra={"expected": {report_type: e.to_wire() for report_type, e in expected.items()}},
    )
    return expected


def _read_json(s3, bucket: str, key: str) -> object:
    try:
        with transient_aws_errors(f"reading s3://{bucket}/{key}"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        # Deleted since the listing, say: one sample fewer.
        logger.warning("manifest unreadable", extra={"key": key, "error": error.response.get("Error", {})})
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None

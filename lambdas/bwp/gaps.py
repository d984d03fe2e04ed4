"""Which (store, report type, day) partitions are missing: a day is landed when its manifest exists.

The manifests are the lake's own record of what landed (the landing writes a manifest last), so
every run, the schedule's self-healing backfill and ``bwp-lake gaps`` read the same truth; the
ledger adds why a missing day is missing, when a run tried it and failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from bwp.aws import transient_aws_errors
from bwp.coordination import LedgerEntry
from bwp.lake.contract import MANIFESTS_PREFIX
from bwp.lake.partition import Partition, Series


@dataclass(frozen=True)
class Gap:
    store: str
    report_type: str
    day: date
    failure: str | None = None  # the last failed run's error and cause, if one tried
    quarantine_key: str | None = None  # where its report is kept, if it could not be curated


def landed_days(manifest_keys: Iterable[str]) -> dict[Series, set[date]]:
    """Series -> days with a manifest, from manifest keys (in S3 or in a local lake)."""
    landed: dict[Series, set[date]] = {}
    for key in manifest_keys:
        partition = Partition.of_manifest_key(key)
        if partition is not None:
            landed.setdefault(partition.series, set()).add(partition.day)
    return landed


def manifest_keys_in_s3(s3, bucket: str) -> list[str]:
    return [item["Key"] for item in manifests_in_s3(s3, bucket)]


def manifests_in_s3(s3, bucket: str) -> list[dict]:
    """Every manifest's listing entry (its ``Key`` and ``LastModified`` among others)."""
    items: list[dict] = []
    with transient_aws_errors(f"listing s3://{bucket}/{MANIFESTS_PREFIX}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=MANIFESTS_PREFIX):
            items.extend(page.get("Contents", []))
    return items


def missing_days(landed: set[date], first: date, end: date) -> list[date]:
    """Days in [first, end) without a manifest, oldest first."""
    return [day for day in (first + timedelta(days=n) for n in range((end - first).days)) if day not in landed]


def failures_of(entries: Iterable[LedgerEntry]) -> dict[Partition, LedgerEntry]:
    """Partition -> its ledger entry, where the ledger remembers a failure or a quarantined report."""
    return {entry.partition: entry for entry in entries if entry.last_error or entry.quarantine_key}


def find_gaps(
    landed: Mapping[Series, set[date]],
    series: Iterable[Series],
    first: date,
    end: date,
    failures: Mapping[Partition, LedgerEntry] | None = None,
) -> list[Gap]:
    """Every partition of ``series`` in [first, end) without a manifest, with its failure if known."""
    failures = failures or {}
    return [
        gap_of(one.on(day), failures.get(one.on(day)))
        for one in series
        for day in missing_days(landed.get(one, set()), first, end)
    ]


def gap_of(partition: Partition, entry: LedgerEntry | None) -> Gap:
    """A missing day, with what the ledger remembers of it (its failure, where its report is kept)."""
    if entry is None:
        return Gap(partition.store, partition.report_type, partition.day)
    failure = f"{entry.last_error}: {entry.last_cause}" if entry.last_error else None
    return Gap(partition.store, partition.report_type, partition.day, failure, entry.quarantine_key)

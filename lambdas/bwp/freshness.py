"""How long ago a store's report type last landed, from the manifests' write times.

A manifest is written last, once its day is whole, so the newest manifest's write time is when
the report type last landed. Nothing is known of a report type that never landed: a new
deployment reports no age at all, and so its freshness alarm stays quiet until the first landing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bwp.lake.partition import Partition, Series


def hours_since_last_landing(manifests: Iterable[dict], series: Series, now: datetime) -> float | None:
    """Hours from the newest of ``manifests`` (S3 listing entries) of ``series`` to ``now``;
    None when it has none."""
    newest = max((item["LastModified"] for item in manifests if _series(item["Key"]) == series), default=None)
    return None if newest is None else max(0.0, (now - newest).total_seconds() / 3600)


def _series(key: str) -> Series | None:
    partition = Partition.of_manifest_key(key)
    return partition.series if partition else None

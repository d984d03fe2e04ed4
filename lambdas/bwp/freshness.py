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
    return hours_since(last_landings(manifests).get(series), now)


def last_landings(manifests: Iterable[dict]) -> dict[Series, datetime]:
    """Each series' newest manifest write time, from one pass over the listing."""
    newest: dict[Series, datetime] = {}
    for item in manifests:
        partition = Partition.of_manifest_key(item["Key"])
        if partition is not None and (
            partition.series not in newest or item["LastModified"] > newest[partition.series]
        ):
            newest[partition.series] = item["LastModified"]
    return newest


def hours_since(landed: datetime | None, now: datetime) -> float | None:
    return None if landed is None else max(0.0, (now - landed).total_seconds() / 3600)

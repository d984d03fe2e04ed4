"""How long ago a report type last landed, from the manifests' write times.

A manifest is written last, once its day is whole, so the newest manifest's write time is when
the report type last landed. Nothing is known of a report type that never landed: a new
deployment reports no age at all, and so its freshness alarm stays quiet until the first landing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bwp.lake.contract import MANIFESTS_PREFIX
from bwp.lake.schemas import table_location_prefix


def hours_since_last_landing(s3, bucket: str, report_type: str, now: datetime) -> float | None:
    """Hours from the newest manifest of ``report_type`` to ``now``; None when none was ever written."""
    newest = max((item["LastModified"] for item in _manifests(s3, bucket, report_type)), default=None)
    return None if newest is None else max(0.0, (now - newest).total_seconds() / 3600)


def _manifests(s3, bucket: str, report_type: str) -> Iterable[dict]:
    prefix = table_location_prefix(MANIFESTS_PREFIX, report_type)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])

"""What the workflow tests share: the data seed and reading the lake back."""

from __future__ import annotations

import gzip
from datetime import date

from emulator.reports import report_bytes
from local.engine import BUCKET, ExecutionOutcome, LocalEngine

SEED = 11
ROWS_PER_DAY = 40


def served_csv(report_type: str, day: date) -> bytes:
    """What the emulator serves for one (type, day): the bytes the lake must hold."""
    return b"".join(report_bytes(report_type, day, SEED, ROWS_PER_DAY))


def landed_csv(engine: LocalEngine, key: str) -> bytes:
    return gzip.decompress(engine.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys(engine: LocalEngine, prefix: str) -> list[str]:
    listing = engine.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def calls(outcome: ExecutionOutcome, function: str) -> list:
    return [invocation for invocation in outcome.invocations if invocation.function == function]

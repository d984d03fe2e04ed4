"""The local twin for tests: an emulator, engines on it, and the lake read back as a person checks it.

Shared by the normal-path tests (tests/workflow) and the fault tests (tests/faults). Assertions
here are about end states: what landed (byte for byte), what failed (the window and the cause),
and that nothing partial is left behind.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, time, timedelta

import pytest
from bwp.lake.contract import CURATED_PREFIX, MANIFESTS_PREFIX, REPORTS_PREFIX

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.emulator.reports import ReportSpec, stream
from bwp_lake.local.engine import BUCKET, ApiEndpoint, ExecutionOutcome, LocalEngine
from bwp_lake.local.lambda_runtime import Invocation

SEED = 11
ROWS_PER_DAY = 40
GENERATION_SECONDS = 120.0


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=GENERATION_SECONDS)) as api:
        yield api


@pytest.fixture
def engine_for(emulator) -> Iterator[Callable[..., LocalEngine]]:
    """Builds an engine on the emulator; ``on_invocation`` lets a test act between states, and
    any other keyword goes to LocalEngine."""
    with ExitStack() as stack:

        def build(
            on_invocation: Callable[[Invocation], None] | None = None, api: Emulator = emulator, **options
        ) -> LocalEngine:
            credentials = api.credentials
            endpoint = ApiEndpoint(
                api.base_url, credentials["clientId"], credentials["clientSecret"], credentials["targetId"]
            )
            return stack.enter_context(LocalEngine(endpoint, on_invocation=on_invocation, **options))

        yield build


# --- the lake ---------------------------------------------------------------------------------
def report_key(report_type: str, day: str) -> str:
    return f"reports/report_type={report_type}/dt={day}/{report_type}_{day}.csv.gz"


def manifest_key(report_type: str, day: str) -> str:
    return f"manifests/report_type={report_type}/dt={day}.json"


def served_csv(
    report_type: str,
    day: date | str,
    rows_per_day: int = ROWS_PER_DAY,
    header_drift: str | None = None,
    bad_last_record: str | None = None,
) -> bytes:
    """What the emulator serves for one (type, day): the bytes the lake must hold."""
    midnight = datetime.combine(date.fromisoformat(str(day)), time(), UTC)
    spec = ReportSpec(
        report_type,
        midnight,
        midnight + timedelta(days=1),
        SEED,
        rows_per_day,
        header_drift,
        bad_last_record=bad_last_record,
    )
    return b"".join(stream(spec))


def landed_csv(engine: LocalEngine, key: str) -> bytes:
    return gzip.decompress(engine.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys(engine: LocalEngine, prefix: str) -> list[str]:
    listing = engine.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def table_keys(engine: LocalEngine) -> list[str]:
    """Every key in a table's location or the manifests: what a query can see (an execution's
    own objects under _runs/ are not)."""
    return [key for prefix in (REPORTS_PREFIX, CURATED_PREFIX, MANIFESTS_PREFIX) for key in keys(engine, prefix)]


def manifest(engine: LocalEngine, report_type: str, day: str) -> dict:
    return json.loads(engine.s3.get_object(Bucket=BUCKET, Key=manifest_key(report_type, day))["Body"].read())


def open_uploads(engine: LocalEngine) -> list[str]:
    """Keys of multipart uploads begun and neither completed nor aborted."""
    return sorted(upload["Key"] for upload in engine.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))


def calls(outcome: ExecutionOutcome, function: str) -> list[Invocation]:
    return [invocation for invocation in outcome.invocations if invocation.function == function]


# --- end states -------------------------------------------------------------------------------
def assert_landed(
    engine: LocalEngine,
    report_type: str,
    day: str,
    rows_per_day: int = ROWS_PER_DAY,
    header_drift: str | None = None,
    bad_last_record: str | None = None,
) -> dict:
    """The partition holds one object, exactly what the API served, and a manifest that matches it.

    Byte-identical and alone in its partition: no row is missing, changed or there twice.
    Returns the manifest.
    """
    served = served_csv(report_type, day, rows_per_day, header_drift, bad_last_record)
    key = report_key(report_type, day)
    assert keys(engine, key.rsplit("/", 1)[0] + "/") == [key]
    assert landed_csv(engine, key) == served
    landed = manifest(engine, report_type, day)
    assert landed["key"] == key
    assert landed["rows"] == len(list(csv.reader(io.StringIO(served.decode(errors="replace"))))) - 1
    assert landed["sha256"] == hashlib.sha256(served).hexdigest()
    assert landed["bytesOut"] == engine.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    assert report_key(report_type, day) not in open_uploads(engine)
    return landed


def assert_nothing_landed(engine: LocalEngine, report_type: str, day: str) -> None:
    """No object (whole or partial) in the partition of any table, none staged, no manifest, no
    multipart upload left open."""
    for layer in ("reports", "curated", "staging"):
        assert keys(engine, f"{layer}/report_type={report_type}/dt={day}/") == []
    assert keys(engine, manifest_key(report_type, day)) == []
    assert open_uploads(engine) == []


def assert_window_failed(outcome: ExecutionOutcome, report_type: str, day: str, error: str, *said: str) -> None:
    """The execution failed, and both its cause and the summary name the window, the error and
    what the error said (``said``: parts of the message a person needs)."""
    assert outcome.status == "FAILED"
    assert outcome.error == "WindowsFailed"
    assert f"{report_type} {day} ({error}: " in outcome.cause
    lines = [line for line in outcome.summary["lines"] if line.startswith(f"{report_type} {day}: FAILED")]
    assert len(lines) == 1, outcome.summary["lines"]
    assert f": {error}: " in lines[0]
    for words in said:
        assert words in lines[0], lines[0]

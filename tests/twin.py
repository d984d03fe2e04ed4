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
from bwp.lake.contract import ICEBERG_PREFIX, MANIFESTS_PREFIX, REPORTS_PREFIX
from bwp.lake.partition import Partition, Series
from bwp.lake.stores import DEFAULT_STORE_ID

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.emulator.config import derived_merchants
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


# Two stores on one emulator: store-1 (the data of SEED) and store-2 (the data of SEED + 1).
TWO_STORES = ("store-1", "store-2")


@pytest.fixture
def two_store_emulator() -> Iterator[Emulator]:
    merchants = derived_merchants(len(TWO_STORES), SEED)
    with Emulator(
        EmulatorConfig(rows_per_day=ROWS_PER_DAY, generation_seconds=GENERATION_SECONDS, merchants=merchants)
    ) as api:
        yield api


@pytest.fixture
def engine_for(emulator) -> Iterator[Callable[..., LocalEngine]]:
    """Builds an engine on the emulator, one store per merchant it serves (``default`` for one);
    ``on_invocation`` lets a test act between states, ``endpoint`` replaces the stores, and any
    other keyword goes to LocalEngine."""
    with ExitStack() as stack:

        def build(
            on_invocation: Callable[[Invocation], None] | None = None,
            api: Emulator = emulator,
            endpoint: ApiEndpoint | None = None,
            **options,
        ) -> LocalEngine:
            endpoint = endpoint or ApiEndpoint.serving(api.base_url, api.all_credentials)
            return stack.enter_context(LocalEngine(endpoint, on_invocation=on_invocation, **options))

        yield build


# --- the lake ---------------------------------------------------------------------------------
def partition(report_type: str, day: date | str, store: str = DEFAULT_STORE_ID) -> Partition:
    return Partition(store, report_type, date.fromisoformat(str(day)))


def report_key(report_type: str, day: date | str, store: str = DEFAULT_STORE_ID) -> str:
    return partition(report_type, day, store).raw_key


def manifest_key(report_type: str, day: date | str, store: str = DEFAULT_STORE_ID) -> str:
    return partition(report_type, day, store).manifest_key


def series_folder(report_type: str, store: str = DEFAULT_STORE_ID, layer: str = REPORTS_PREFIX) -> str:
    """The folder of one store's report type in a layer (every day of it)."""
    return Series(store, report_type).prefix(layer)


def seed_of(store: str) -> int:
    """The data seed of a store the twin's emulators serve: store-k has SEED + k - 1."""
    return SEED if store == DEFAULT_STORE_ID else SEED + TWO_STORES.index(store)


def served_csv(
    report_type: str,
    day: date | str,
    rows_per_day: int = ROWS_PER_DAY,
    header_drift: str | None = None,
    bad_last_record: str | None = None,
    seed: int = SEED,
) -> bytes:
    """What the emulator serves for one (type, day): the bytes the lake must hold."""
    midnight = datetime.combine(date.fromisoformat(str(day)), time(), UTC)
    spec = ReportSpec(
        report_type,
        midnight,
        midnight + timedelta(days=1),
        seed,
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
    """Every key in a table's location or the manifests: the raw tables, the curated tables' files
    (data and metadata) and the manifests (an execution's own objects under _runs/ are not)."""
    return [key for prefix in (REPORTS_PREFIX, ICEBERG_PREFIX, MANIFESTS_PREFIX) for key in keys(engine, prefix)]


def manifest(engine: LocalEngine, report_type: str, day: str, store: str = DEFAULT_STORE_ID) -> dict:
    key = manifest_key(report_type, day, store)
    return json.loads(engine.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


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
    store: str = DEFAULT_STORE_ID,
) -> dict:
    """The store's partition holds one object, exactly what the API served that store, and a
    manifest that matches it.

    Byte-identical and alone in its partition: no row is missing, changed or there twice.
    Returns the manifest.
    """
    served = served_csv(report_type, day, rows_per_day, header_drift, bad_last_record, seed_of(store))
    key = report_key(report_type, day, store)
    assert keys(engine, key.rsplit("/", 1)[0] + "/") == [key]
    assert landed_csv(engine, key) == served
    landed = manifest(engine, report_type, day, store)
    assert landed["key"] == key
    assert landed["store"] == store
    assert landed["rows"] == len(list(csv.reader(io.StringIO(served.decode(errors="replace"))))) - 1
    assert landed["sha256"] == hashlib.sha256(served).hexdigest()
    assert landed["bytesOut"] == engine.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    assert key not in open_uploads(engine)
    return landed


def assert_nothing_landed(engine: LocalEngine, report_type: str, day: str, store: str = DEFAULT_STORE_ID) -> None:
    """No object (whole or partial) in the partition of any table (the raw report's folder, the
    curated table's data folder of the day), none staged, no manifest, no multipart upload left open."""
    one = partition(report_type, day, store)
    for key in (one.raw_key, one.curated_data_key("any"), one.staging_key("")):
        assert keys(engine, key.rsplit("/", 1)[0] + "/") == []
    assert keys(engine, one.manifest_key) == []
    assert open_uploads(engine) == []


def assert_window_failed(
    outcome: ExecutionOutcome, report_type: str, day: str, error: str, *said: str, store: str = DEFAULT_STORE_ID
) -> None:
    """The execution failed, and both its cause and the summary name the window (its store, type
    and day), the error and what the error said (``said``: parts of the message a person needs)."""
    window = partition(report_type, day, store)
    assert outcome.status == "FAILED"
    assert outcome.error == "WindowsFailed"
    assert f"{window} ({error}: " in outcome.cause
    lines = [line for line in outcome.summary["lines"] if line.startswith(f"{window}: FAILED")]
    assert len(lines) == 1, outcome.summary["lines"]
    assert f": {error}: " in lines[0]
    for words in said:
        assert words in lines[0], lines[0]

"""What reaches the lake when S3 fails mid-upload, the header drifts, or a day is landed again."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from unittest import mock

import pyarrow.parquet as pq
import pytest
from bwp.lake.contract import MANIFESTS_PREFIX, REPORTS_PREFIX
from bwp.lake.stores import DEFAULT_STORE_ID
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.local.engine import BUCKET
from bwp_lake.local.lake_sql import LakeSql
from tests.twin import (
    SEED,
    assert_landed,
    assert_nothing_landed,
    assert_window_failed,
    keys,
    manifest,
    served_csv,
)

DAY = "2024-08-22"
# Enough USER_EVENTS rows for a gzip object of two multipart parts (8 MiB each, the last one shorter).
ROWS_FOR_TWO_PARTS = 110_000


class PartsRefusedAfter:
    """moto's S3 taking the first ``accepted`` parts of any upload, then refusing every later one."""

    def __init__(self, accepted: int) -> None:
        self.accepted, self.taken, self.refused = accepted, 0, 0
        self._upload_part = S3Backend.upload_part

    def installed(self):
        def upload_part(backend: S3Backend, *args, **kwargs):
            if self.taken >= self.accepted:
                self.refused += 1
                raise S3ClientError("AccessDenied", "Access Denied")
            self.taken += 1
            return self._upload_part(backend, *args, **kwargs)

        return mock.patch.object(S3Backend, "upload_part", upload_part)


def test_s3_failing_mid_upload_leaves_nothing_visible_and_a_rerun_lands_the_day_whole(engine_for):
    # given a report of two parts, and S3 that refuses the second part
    config = EmulatorConfig(seed=SEED, rows_per_day=ROWS_FOR_TWO_PARTS, generation_seconds=1.0)
    with Emulator(config) as big:
        engine = engine_for(api=big)
        request = {"reportTypes": ["USER_EVENTS"], "startDate": DAY, "endDate": "2024-08-23"}
        refusing = PartsRefusedAfter(accepted=1)
        with refusing.installed():
            crashed = engine.run(request)
        # then the upload broke after its first part, the window names the cause, and nothing is visible
        assert (refusing.taken, refusing.refused >= 1) == (1, True)
        assert_window_failed(crashed, "USER_EVENTS", DAY, "AccessDenied", "UploadPart operation")
        assert_nothing_landed(engine, "USER_EVENTS", DAY)
        # when S3 works again and the day is run again
        rerun = engine.run(request)
    # then the partition holds the whole report, from one upload of several parts
    assert rerun.succeeded, rerun.cause
    landed = assert_landed(engine, "USER_EVENTS", DAY, rows_per_day=ROWS_FOR_TWO_PARTS)
    assert landed["download"]["parts"] >= 2


@pytest.mark.parametrize("drift", ["rename", "add"])
def test_a_drifted_header_still_lands_byte_identical_and_is_flagged(engine_for, emulator, drift):
    # given reports whose header differs from the registry
    emulator.set_faults(header_drift=drift)
    engine = engine_for()
    outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": DAY, "endDate": "2024-08-23"})
    # then the report lands as served, and the drift is in the summary and the manifest
    assert outcome.succeeded, outcome.cause
    assert outcome.summary["drifted"] == [f"{DEFAULT_STORE_ID} ORDER_FEES {DAY}"]
    landed = assert_landed(engine, "ORDER_FEES", DAY, header_drift=drift)
    assert landed["drift"]["unexpected"]
    assert bool(landed["drift"]["missing"]) == (drift == "rename")
    # and the curated file keeps every unexpected column, as text beside the registry's columns
    assert len(landed["curated"]["extraColumns"]) == len(landed["drift"]["unexpected"])
    body = engine.s3.get_object(Bucket=BUCKET, Key=landed["curated"]["key"])["Body"].read()
    curated = pq.read_table(io.BytesIO(body))
    assert set(landed["curated"]["extraColumns"]) <= set(curated.schema.names)
    assert curated.num_rows == landed["rows"]


def test_a_rerun_replaces_its_partitions_and_never_duplicates(engine_for):
    # given two days landed
    engine = engine_for()
    request = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-21", "endDate": "2024-08-23"}
    first = engine.run(request)
    before = published_keys(engine)
    # when the same days run again
    second = engine.run(request)
    # then the same raw and manifest keys hold the second run's landing: replaced, not added (the
    # curated table keeps the first run's data files for time travel, in a snapshot no longer
    # current: tests/workflow/test_iceberg_curated.py counts its rows per day)
    assert first.succeeded and second.succeeded
    assert published_keys(engine) == before
    for day in ("2024-08-21", "2024-08-22"):
        assert assert_landed(engine, "ORDER_FEES", day)["executionId"] == second.execution_arn != first.execution_arn


def test_a_look_back_over_landed_days_replaces_them_and_every_day_counts_each_row_once(engine_for, tmp_path):
    # given the days from five to two days ago landed
    engine = engine_for(lake_dir=tmp_path)
    today = datetime.now(UTC).date()
    days = [str(today - timedelta(days=back)) for back in range(5, 0, -1)]
    ranged = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": days[0], "endDate": days[4]})
    # when the schedule's look-back runs over the last three days
    looked_back = engine.run({"reportTypes": ["ORDER_FEES"], "lookbackDays": 3})
    # then the overlap was replaced, the new day added, the oldest left alone
    assert ranged.succeeded and looked_back.succeeded, (ranged.cause, looked_back.cause)
    landed_by = {day: assert_landed(engine, "ORDER_FEES", day)["executionId"] for day in days}
    assert landed_by == {
        days[0]: ranged.execution_arn,
        days[1]: ranged.execution_arn,
        **{day: looked_back.execution_arn for day in days[2:]},
    }
    # and the table, as a query sees it, holds every served row of each day once
    engine.export_lake()
    with LakeSql(tmp_path) as lake:
        _, counted = lake.query("SELECT dt, count(*) FROM order_fees_raw GROUP BY dt")
    served_rows = {day: served_csv("ORDER_FEES", day).count(b"\n") - 1 for day in days}
    assert dict(counted) == served_rows
    assert manifest(engine, "ORDER_FEES", days[4])["rows"] == served_rows[days[4]]


def published_keys(engine) -> list[str]:
    """The raw reports and the manifests: what a landing publishes under keys of its day's own."""
    return keys(engine, REPORTS_PREFIX) + keys(engine, MANIFESTS_PREFIX)

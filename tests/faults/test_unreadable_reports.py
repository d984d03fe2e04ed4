"""A report the curated layer cannot read: the day never shows in a table unless it landed, the
bytes the API served are kept aside and named, and one bad file never closes the local lake."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import pyarrow.parquet as pq

from bwp_lake.cli.main import main
from bwp_lake.local.engine import BUCKET
from bwp_lake.local.lake_sql import LakeSql
from bwp_lake.local.lake_state import saved_ledger_items
from tests.twin import assert_landed, assert_nothing_landed, assert_window_failed, keys, partition, served_csv

GOOD_DAY, BAD_DAY = "2024-08-21", "2024-08-22"


def run_day(engine, day: str):
    return engine.run({"reportTypes": ["ORDER_FEES"], "startDate": day, "endDate": f"{day[:-2]}{int(day[-2:]) + 1}"})


def test_a_report_that_cannot_be_curated_is_quarantined_named_and_absent_from_every_table(
    engine_for, emulator, tmp_path, capsys
):
    # given a landed day, then a day whose report ends with a 3 MiB record without a line end
    engine = engine_for(lake_dir=tmp_path)
    assert run_day(engine, GOOD_DAY).succeeded
    emulator.set_faults(bad_last_record="long_line")
    # when the bad day runs
    outcome = run_day(engine, BAD_DAY)
    engine.export_lake()
    # then the window fails, and no table location, nor staging, holds anything of that day
    assert_window_failed(outcome, "ORDER_FEES", BAD_DAY, "CuratedWriteFailed", "the report as served is kept at")
    assert_nothing_landed(engine, "ORDER_FEES", BAD_DAY)
    bad = partition("ORDER_FEES", BAD_DAY)
    for key in (bad.raw_key, bad.manifest_key):
        assert not (tmp_path / key).exists(), key
    assert not (tmp_path / bad.curated_data_key("any")).parent.exists()
    # and the bytes the API served are kept, exactly, under quarantine/, once
    (kept,) = keys(engine, bad.quarantine_key(""))
    body = gzip.decompress(engine.s3.get_object(Bucket=BUCKET, Key=kept)["Body"].read())
    served = served_csv("ORDER_FEES", BAD_DAY, bad_last_record="long_line")
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(served).hexdigest()
    assert (tmp_path / kept).read_bytes() == engine.s3.get_object(Bucket=BUCKET, Key=kept)["Body"].read()
    # and the failure, the ledger and `bwp-lake gaps` name where
    assert kept in outcome.cause
    (entry,) = [item for item in saved_ledger_items(tmp_path) if item["sk"] == BAD_DAY]
    assert entry["quarantineKey"] == kept
    capsys.readouterr()
    assert (
        main(
            [
                "gaps",
                "--lake-dir",
                str(tmp_path),
                "--from",
                GOOD_DAY,
                "--to",
                "2024-08-23",
                "--report-types",
                "ORDER_FEES",
                "--json",
            ]
        )
        == 1
    )
    (gap,) = json.loads(capsys.readouterr().out)["missing"]
    assert (gap["day"], gap["quarantineKey"]) == (BAD_DAY, kept)
    assert kept in gap["failure"]
    # and the good day is untouched and queryable
    assert_landed(engine, "ORDER_FEES", GOOD_DAY)
    with LakeSql(tmp_path) as lake:
        assert lake.query("SELECT DISTINCT dt FROM order_fees_raw")[1] == [(GOOD_DAY,)]
        assert lake.unreadable == []


def test_text_that_is_not_utf8_lands_mended_and_flagged_and_the_local_lake_still_opens(engine_for, emulator, tmp_path):
    # given a landed day, then a day whose last row holds a Latin-1 "café"
    engine = engine_for(lake_dir=tmp_path)
    assert run_day(engine, GOOD_DAY).succeeded
    emulator.set_faults(bad_last_record="invalid_utf8")
    # when the day runs
    outcome = run_day(engine, BAD_DAY)
    engine.export_lake()
    # then the day lands: raw as served, byte for byte, and flagged in its manifest
    assert outcome.succeeded, outcome.cause
    landed = assert_landed(engine, "ORDER_FEES", BAD_DAY, bad_last_record="invalid_utf8")
    assert landed["curated"]["invalidUtf8Values"] == 1
    assert keys(engine, "quarantine/") == keys(engine, "staging/") == []
    # and the curated file has the row, its bad byte a replacement character
    stored = engine.s3.get_object(Bucket=BUCKET, Key=landed["curated"]["key"])["Body"].read()
    curated = pq.read_table(io.BytesIO(stored))
    assert curated.num_rows == landed["rows"]
    assert curated.column("order_id").to_pylist()[-1] == "caf\ufffd"
    # and DuckDB opens the lake: the typed view has both days, the raw file it cannot read is named
    with LakeSql(tmp_path) as lake:
        days = lake.query("SELECT dt, count(*) FROM order_fees GROUP BY dt ORDER BY dt")[1]
        raw_days = lake.query("SELECT DISTINCT dt FROM order_fees_raw")[1]
        flagged = lake.query('SELECT "day", curated.invalidUtf8Values FROM manifests ORDER BY "day"')[1]
        unreadable = lake.unreadable
    assert [str(day) for day, _ in days] == [GOOD_DAY, BAD_DAY]
    assert raw_days == [(GOOD_DAY,)]
    assert len(unreadable) == 1 and f"dt={BAD_DAY}" in unreadable[0]
    assert [(str(day), count) for day, count in flagged] == [(GOOD_DAY, 0), (BAD_DAY, 1)]

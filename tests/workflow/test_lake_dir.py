"""The local lake directory: each window copied once its commit lands, whole, its manifest after its report."""

from __future__ import annotations

import json
import re
import shutil
import threading
from datetime import date
from pathlib import Path

import pytest
from bwp.lake.contract import CURATED_PREFIX, ICEBERG_PREFIX, MANIFESTS_PREFIX, REPORTS_PREFIX
from bwp.lake.partition import Partition

from bwp_lake.cli.main import main
from bwp_lake.local.engine import BUCKET
from bwp_lake.local.lake_dir import CATALOG_FILE, INCOMING, MIRRORED_PREFIXES
from bwp_lake.local.lake_sql import LakeSql
from bwp_lake.local.lake_state import STATE_FILE
from tests.twin import manifest_key, report_key

TWO_DAYS = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-08-21", "endDate": "2024-08-23"}


def report_path(lake: Path, report_type: str, day: str) -> Path:
    return lake / report_key(report_type, day)


def manifest_path(lake: Path, report_type: str, day: str) -> Path:
    return lake / manifest_key(report_type, day)


# The partition a file's folders name (read back to compare with the keys Partition builds).
PARTITION_FOLDERS = re.compile(r"store=(?P<store>[^/]+)/report_type=(?P<type>\w+)/dt=(?P<day>\d{4}-\d{2}-\d{2})")


def problems_in(lake: Path) -> list[str]:
    """What a reader of the directory must never see: a stray file in a partition, a manifest
    without its report."""
    found = []
    for prefix in (REPORTS_PREFIX, MANIFESTS_PREFIX):
        for path in sorted((lake / prefix).rglob("*")):
            if path.is_dir():
                continue
            relative = path.relative_to(lake).as_posix()
            folders = PARTITION_FOLDERS.search(relative)
            named = folders and Partition(folders["store"], folders["type"], date.fromisoformat(folders["day"]))
            if not named or relative not in (named.raw_key, named.manifest_key):
                found.append(f"stray {relative}")
            elif relative == named.manifest_key and not (lake / named.raw_key).exists():
                found.append(f"{relative} without its report")
    return found


def test_each_window_is_in_the_lake_dir_as_soon_as_its_commit_lands(engine_for, tmp_path):
    # given an engine that copies into a lake dir, watched at every step of the run
    seen_at_commit: dict[tuple[str, str], bytes] = {}
    problems: list[str] = []
    windows = [(report_type, day) for report_type in TWO_DAYS["reportTypes"] for day in ("2024-08-21", "2024-08-22")]

    def watch(invocation):
        problems.extend(problems_in(tmp_path))
        if invocation.function == "bwp-land-report":
            # a landed window is not landed in the directory until its commit
            window = (invocation.event["window"]["reportType"], invocation.event["window"]["day"])
            assert not manifest_path(tmp_path, *window).exists()
        if invocation.function == "bwp-commit-curated" and invocation.result:
            for window in windows:
                if manifest_path(tmp_path, *window).exists():
                    seen_at_commit[window] = report_path(tmp_path, *window).read_bytes()

    engine = engine_for(on_invocation=watch, lake_dir=tmp_path)
    # when two days of both report types are ingested
    outcome = engine.run(TWO_DAYS)
    # then every window was in the directory, whole, by the time the commit returned
    assert outcome.succeeded, outcome.cause
    assert sorted(seen_at_commit) == windows
    for (report_type, day), copied in seen_at_commit.items():
        key = report_key(report_type, day)
        assert copied == engine.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    # and at no moment did the directory hold a stray file or a manifest without its report
    assert problems == []
    # and the final sweep has nothing left to copy, and leaves no temporary directory behind
    assert engine.export_lake() == []
    assert not (tmp_path / INCOMING).exists()


def test_stale_temporary_files_are_removed_when_a_run_starts(engine_for, tmp_path):
    # given a lake dir where an earlier copy was killed midway, next to a partition that is whole
    whole = report_path(tmp_path, "ORDER_FEES", "2024-08-01")
    whole.parent.mkdir(parents=True)
    whole.write_bytes(b"a landed report")
    leftover = whole.with_name(f"{whole.name}.9fA03b7C")
    leftover.write_bytes(b"half a rep")
    incoming = tmp_path / INCOMING / "0b1c-ORDER_FEES_2024-08-02.csv.gz"
    incoming.parent.mkdir()
    incoming.write_bytes(b"half")
    # when an engine starts on it
    engine_for(lake_dir=tmp_path)
    # then the half-copied files are gone and the landed partition is kept
    assert not leftover.exists() and not incoming.exists()
    assert whole.read_bytes() == b"a landed report"


def test_a_run_stopped_at_the_time_limit_leaves_no_day_half_landed(engine_for, tmp_path):
    # given a run whose second day hangs before its download until the test lets it go
    release = threading.Event()

    def hold_the_second_day(invocation):
        second_day = invocation.event.get("window", {}).get("day") == "2024-08-22"
        completed = invocation.result is not None and invocation.result.get("status") == "COMPLETED"
        if invocation.function == "bwp-check-report" and completed and second_day:
            release.wait(timeout=60)

    engine = engine_for(on_invocation=hold_the_second_day, lake_dir=tmp_path)
    request = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-21", "endDate": "2024-08-23"}
    # when the run hits its time limit
    try:
        with pytest.raises(TimeoutError):
            engine.run(request, timeout_seconds=5)
    finally:
        release.set()
    # then no day is in the lake dir: the run never reached its commit, which is what lands a day
    # (the first day's report is staged, and its data file written, but no table lists it)
    for day in ("2024-08-21", "2024-08-22"):
        assert not report_path(tmp_path, "ORDER_FEES", day).exists()
        assert not manifest_path(tmp_path, "ORDER_FEES", day).exists()
    assert problems_in(tmp_path) == []


def into_the_layout_before_stores(lake: Path) -> None:
    """Move a lake directory of the store ``default`` back into the layout before keys carried
    the store and the curated layer was Iceberg: every file out of ``<layer>/store=default/``,
    ledger items ``WINDOW#<type>``, and each day's typed file in ``curated/report_type=T/dt=D/``
    instead of the Iceberg tables."""
    for data_file in sorted((lake / ICEBERG_PREFIX).glob("*/data/store=default/dt=*/*.parquet")):
        report_type = data_file.name.split("_20", 1)[0]
        day = data_file.parent.name.removeprefix("dt=")
        curated = lake / CURATED_PREFIX / f"report_type={report_type}" / f"dt={day}" / f"{report_type}_{day}.parquet"
        curated.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_file, curated)
    shutil.rmtree(lake / ICEBERG_PREFIX)
    shutil.rmtree(lake / CATALOG_FILE.split("/")[0])
    for prefix in MIRRORED_PREFIXES:
        store_folder = lake / prefix / "store=default"
        for path in sorted(store_folder.rglob("*")) if store_folder.exists() else []:
            if path.is_file():
                target = lake / prefix / path.relative_to(store_folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.rename(target)
    items = json.loads((lake / STATE_FILE).read_text())
    for item in items:
        item["pk"] = item["pk"].replace("WINDOW#default#", "WINDOW#")
    (lake / STATE_FILE).write_text(json.dumps(items))


def test_a_lake_dir_of_the_layout_before_stores_keeps_its_history_in_the_store_default(tmp_path, capsys):
    days = ["--report-types", "ORDER_FEES", "--rows-per-day", "10", "--lake-dir", str(tmp_path)]
    faults = tmp_path.parent / "faults.json"
    faults.write_text(json.dumps({"fail_reports": "always"}))
    # given a lake directory written before keys carried the store: two landed days and a failed third
    assert main(["local-run", *days, "--start", "2024-08-20", "--end", "2024-08-22"]) == 0
    assert main(["local-run", *days, "--start", "2024-08-22", "--end", "2024-08-23", "--faults", str(faults)]) == 1
    into_the_layout_before_stores(tmp_path)
    before = {
        day: tmp_path / report_key("ORDER_FEES", day).replace("store=default/", "")
        for day in ("2024-08-20", "2024-08-21")
    }
    served = {day: path.read_bytes() for day, path in before.items()}
    capsys.readouterr()
    # when gaps reads it
    gaps = [
        "gaps",
        "--lake-dir",
        str(tmp_path),
        "--from",
        "2024-08-20",
        "--to",
        "2024-08-23",
        "--report-types",
        "ORDER_FEES",
    ]
    assert main(gaps) == 1
    # then its files and ledger are in the store default: the landed days are there as they were,
    # and the failed day is named with the failure the earlier run saw
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("default ORDER_FEES 2024-08-22 failed: ReportFailed: ")
    assert out[-1].startswith("1 partition(s) missing")
    for day, body in served.items():
        assert (tmp_path / report_key("ORDER_FEES", day)).read_bytes() == body
        assert (tmp_path / manifest_key("ORDER_FEES", day)).exists()
    for prefix in MIRRORED_PREFIXES:
        assert not list((tmp_path / prefix).glob("report_type=*")), prefix
    assert problems_in(tmp_path) == []
    # and a healing run sees the old days as landed: it plans and lands the failed day only
    healing = ["--start", "2024-08-22", "--end", "2024-08-23", "--backfill-from", "2024-08-20", "--json"]
    assert main(["local-run", *days, *healing]) == 0
    (execution,) = json.loads(capsys.readouterr().out)["executions"]
    assert execution["summary"]["lines"] == [
        line for line in execution["summary"]["lines"] if line.startswith("default ORDER_FEES 2024-08-22: landed")
    ]
    assert (execution["summary"]["windows"], execution["summary"]["landed"]) == (1, 1)
    # and the typed rows of the days landed before are in the curated table, beside the healed day's
    with LakeSql(tmp_path) as sql:
        _, rows = sql.query("SELECT CAST(dt AS VARCHAR), count(*) FROM order_fees GROUP BY dt ORDER BY 1")
    assert rows == [("2024-08-20", 10), ("2024-08-21", 10), ("2024-08-22", 10)]
    assert not (tmp_path / CURATED_PREFIX).exists()

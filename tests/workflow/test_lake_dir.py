"""The local lake directory: each window copied as it lands, whole, its manifest after its report."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from bwp_lake.local.engine import BUCKET
from bwp_lake.local.lake_dir import INCOMING

TWO_DAYS = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-08-21", "endDate": "2024-08-23"}


def report_path(lake: Path, report_type: str, day: str) -> Path:
    return lake / f"reports/report_type={report_type}/dt={day}/{report_type}_{day}.csv.gz"


def manifest_path(lake: Path, report_type: str, day: str) -> Path:
    return lake / f"manifests/report_type={report_type}/dt={day}.json"


PARTITION_FILE = re.compile(
    r"reports/report_type=(?P<type>\w+)/dt=(?P<day>[\d-]+)/(?P=type)_(?P=day)\.csv\.gz"
    r"|manifests/report_type=(?P<manifest_type>\w+)/dt=(?P<manifest_day>[\d-]+)\.json"
)


def problems_in(lake: Path) -> list[str]:
    """What a reader of the directory must never see: a stray file in a partition, a manifest
    without its report."""
    found = []
    for prefix in ("reports", "manifests"):
        for path in sorted((lake / prefix).rglob("*")):
            relative = path.relative_to(lake).as_posix()
            name = PARTITION_FILE.fullmatch(relative)
            if path.is_dir():
                continue
            if name is None:
                found.append(f"stray {relative}")
            elif name["manifest_type"] and not report_path(lake, name["manifest_type"], name["manifest_day"]).exists():
                found.append(f"{relative} without its report")
    return found


def test_each_window_is_in_the_lake_dir_as_soon_as_it_lands(engine_for, tmp_path):
    # given an engine that copies into a lake dir, watched at every step of the run
    seen_at_landing: dict[tuple[str, str], bytes] = {}
    problems: list[str] = []

    def watch(invocation):
        problems.extend(problems_in(tmp_path))
        if invocation.function == "bwp-land-report" and invocation.result:
            window = (invocation.result["reportType"], invocation.result["day"])
            if manifest_path(tmp_path, *window).exists():
                seen_at_landing[window] = report_path(tmp_path, *window).read_bytes()

    engine = engine_for(on_invocation=watch, lake_dir=tmp_path)
    # when two days of both report types are ingested
    outcome = engine.run(TWO_DAYS)
    # then every window was in the directory, whole, by the time its landing returned
    assert outcome.succeeded, outcome.cause
    windows = [(report_type, day) for report_type in TWO_DAYS["reportTypes"] for day in ("2024-08-21", "2024-08-22")]
    assert sorted(seen_at_landing) == windows
    for (report_type, day), copied in seen_at_landing.items():
        key = f"reports/report_type={report_type}/dt={day}/{report_type}_{day}.csv.gz"
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


def test_a_run_stopped_at_the_time_limit_keeps_the_windows_that_landed(engine_for, tmp_path):
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
    # then the day that had landed is in the lake dir, whole, and the other is not
    assert report_path(tmp_path, "ORDER_FEES", "2024-08-21").exists()
    assert manifest_path(tmp_path, "ORDER_FEES", "2024-08-21").exists()
    assert not manifest_path(tmp_path, "ORDER_FEES", "2024-08-22").exists()
    assert problems_in(tmp_path) == []

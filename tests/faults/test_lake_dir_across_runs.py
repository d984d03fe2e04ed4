"""The local lake directory remembers as the bucket and the state table do: a run killed
half-way leaves its tasks to the next, a healing run sees every earlier run's days, and one run
at a time holds the directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bwp.lake.contract import MANIFESTS_PREFIX

from bwp_lake.cli.main import main
from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.local.lake_state import STATE_FILE, saved_ledger_items
from tests.twin import ROWS_PER_DAY, SEED, calls, manifest_key, series_folder

BWP_LAKE = Path(sys.executable).parent / "bwp-lake"
FOUR_DAYS = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-20", "endDate": "2024-08-24"}
FOUR_DAYS_FLAGS = ["--report-types", "ORDER_FEES", "--start", "2024-08-20", "--end", "2024-08-24"]


@contextmanager
def slow_reports() -> Iterator[Emulator]:
    """An API whose reports take an hour: a run against it is still polling when it is stopped."""
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=3600.0)) as api:
        yield api


@contextmanager
def local_run_with_four_tasks_started(api: Emulator, lake: Path) -> Iterator[subprocess.Popen]:
    """``bwp-lake local-run --verbose`` of four windows in its own process, yielded once its progress says
    that all four report tasks started; killed on the way out if still alive."""
    environment = {
        **os.environ,
        "BWP_CLIENT_ID": api.credentials["clientId"],
        "BWP_CLIENT_SECRET": api.credentials["clientSecret"],
        "BWP_TARGET_ID": api.credentials["targetId"],
    }
    process = subprocess.Popen(
        # --verbose: a line per step, so that the four tasks' starts can be read as they happen
        [str(BWP_LAKE), "local-run", *FOUR_DAYS_FLAGS, "--api-url", api.base_url, "--lake-dir", str(lake), "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        started = 0
        while started < 4:
            line = process.stdout.readline()
            assert line, f"local-run ended before its four tasks started (exit {process.wait()})"
            started += "  started  " in line
        yield process
    finally:
        process.kill()
        process.communicate()


def test_a_run_killed_mid_way_leaves_its_live_tasks_to_the_next_run_which_adopts_them(engine_for, tmp_path):
    with slow_reports() as api:
        # given a local-run killed with SIGKILL while its four report tasks are in progress
        with local_run_with_four_tasks_started(api, tmp_path) as first:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        assert api.state()["calls"]["startReportTask"] == 4
        # when the same days run again on the lake directory
        engine = engine_for(api=api, lake_dir=tmp_path)
        outcome = engine.run(FOUR_DAYS)
        # then the four tasks still alive were adopted: no task was started again, none refused
        assert outcome.succeeded, outcome.cause
        assert outcome.summary["landed"] == 4
        starts = calls(outcome, "bwp-start-report")
        assert [call for call in starts if not (call.result and call.result["adopted"])] == []
        assert api.state()["calls"]["startReportTask"] == 4
        assert api.state()["maxConcurrentInProgress"] == 4
    # and the ledger in the lake directory knows every day landed
    assert sorted((item["sk"], item["status"]) for item in saved_ledger_items(tmp_path)) == [
        (day, "LANDED") for day in ("2024-08-20", "2024-08-21", "2024-08-22", "2024-08-23")
    ]


def test_ctrl_c_ends_a_run_with_one_line_and_its_ledger_saved(tmp_path):
    with slow_reports() as api, local_run_with_four_tasks_started(api, tmp_path) as run:
        # given a local-run whose four report tasks are in progress
        # when it is interrupted with Ctrl-C
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    # then it exits 130 with one line saying that the next run resumes, and no traceback
    assert run.returncode == 130
    assert stderr.splitlines() == [
        f"interrupted: the windows that landed and the ledger are saved in {tmp_path}/; run again to resume"
    ]
    # and the ledger holds the four tasks for that run to adopt
    assert sorted((item["sk"], item["status"]) for item in saved_ledger_items(tmp_path)) == [
        (day, "STARTED") for day in ("2024-08-20", "2024-08-21", "2024-08-22", "2024-08-23")
    ]


def test_a_second_run_on_a_lake_dir_in_use_is_refused_at_once_naming_the_first(tmp_path):
    with slow_reports() as api, local_run_with_four_tasks_started(api, tmp_path) as first:
        # given a local-run in progress on the lake directory
        # when another local-run is started on the same directory
        second = subprocess.run(
            [str(BWP_LAKE), "local-run", *FOUR_DAYS_FLAGS, "--lake-dir", str(tmp_path), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        # then it is refused with one line that names the first run, and it touched nothing
        assert second.returncode == 1
        assert second.stdout == ""
        (line,) = second.stderr.splitlines()
        assert line.startswith(f"error: lake directory {tmp_path} is in use by another run (pid {first.pid}, started ")
        assert not (tmp_path / "manifests").exists()
        assert first.poll() is None


def test_a_healing_run_lands_only_the_days_missing_from_the_lake_dir_and_gaps_then_finds_none(tmp_path, capsys):
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(7, 1, -1)]
    lake = ["--report-types", "ORDER_FEES", "--lake-dir", str(tmp_path), "--rows-per-day", "10"]
    # given a lake directory holding the first three of six days, landed by an earlier run
    assert main(["local-run", *lake, "--start", str(days[0]), "--end", str(days[3])]) == 0
    present = {day: (tmp_path / manifest_key("ORDER_FEES", day)).read_bytes() for day in days[:3]}
    capsys.readouterr()
    # when a run of yesterday heals the history since the first day, five backfill windows at most
    code = main(
        [
            "local-run",
            *lake,
            "--lookback-days",
            "1",
            "--backfill-from",
            str(days[0]),
            "--max-backfill-windows",
            "5",
            "--json",
        ]
    )
    # then it planned and landed yesterday and the three missing days only
    (execution,) = json.loads(capsys.readouterr().out)["executions"]
    summary = execution["summary"]
    assert code == 0
    assert (summary["windows"], summary["landed"], summary["missing"]) == (4, 4, 0)
    landed = sorted(path.name for path in (tmp_path / series_folder("ORDER_FEES", layer=MANIFESTS_PREFIX)).iterdir())
    assert landed == [f"dt={day}.json" for day in [*days, today - timedelta(days=1)]]
    # and the days that were there are as the earlier run left them
    for day, manifest in present.items():
        assert (tmp_path / manifest_key("ORDER_FEES", day)).read_bytes() == manifest
    # and the lake directory has no gap left
    assert main(["gaps", "--lake-dir", str(tmp_path), "--from", str(days[0]), "--report-types", "ORDER_FEES"]) == 0


def test_slots_left_by_a_dead_run_free_at_once_when_their_tasks_are_gone(engine_for, emulator, tmp_path):
    # given a lake directory whose last run died holding all five slots, for an hour more, with
    # tasks that the API no longer knows (and a window of it still queued for a slot)
    lease_end = int((emulator.now() + timedelta(hours=1)).timestamp())
    slots = [
        {
            "pk": "SLOTS#local-target",
            "sk": f"slot#{n}",
            "holder": f"arn:dead#ORDER_FEES#2024-08-0{n + 1}",
            "taskId": f"ORDER_FEES:gone-{n}",
            "acquiredAt": "2024-08-25T00:00:00Z",
            "leaseExpiresAt": lease_end,
        }
        for n in range(5)
    ]
    waiter = {
        "pk": "WAITERS#local-target",
        "sk": "arn:dead#ORDER_FEES#2024-08-06",
        "enqueuedAt": "1.000",
        "leaseExpiresAt": lease_end,
    }
    (tmp_path / STATE_FILE).parent.mkdir()
    (tmp_path / STATE_FILE).write_text(json.dumps([*slots, waiter]))
    # when a run of another day starts on it
    outcome = engine_for(lake_dir=tmp_path).run(
        {"reportTypes": ["USER_EVENTS"], "startDate": "2024-08-20", "endDate": "2024-08-21"}
    )
    # then its window took a slot at once: no wait for leases whose holders are gone
    assert outcome.succeeded, outcome.cause
    assert [call.error_type for call in calls(outcome, "bwp-start-report")] == [None]


def test_a_state_file_that_is_not_the_saved_table_is_named_in_one_line_and_nothing_runs(tmp_path):
    # given a lake directory whose saved state table was cut short by hand
    (tmp_path / STATE_FILE).parent.mkdir()
    (tmp_path / STATE_FILE).write_text('[{"pk": "WINDOW#ORDER_FEES", "sk": ')
    # when local-run and gaps use it
    with pytest.raises(SystemExit) as refused:
        main(["local-run", *FOUR_DAYS_FLAGS, "--lake-dir", str(tmp_path)])
    # then both name the file and what to do, and nothing was landed
    assert str(refused.value).startswith(f"error: {tmp_path / STATE_FILE} is not JSON (")
    assert str(refused.value).endswith("move it aside to start without the ledger and the slots")
    assert not (tmp_path / "manifests").exists()
    assert main(["gaps", "--lake-dir", str(tmp_path), "--from", "2024-08-20", "--to", "2024-08-24"]) == 2

"""The curated Iceberg tables end to end: the ASL on the local engine, against the emulator, into a
lake directory whose tables are then read as `bwp-lake sql` and the demo read them.

Each test runs whole executions: the land step writes the data files, *Commit curated tables*
commits them after the Map and publishes the days, Summarize counts what did not commit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from bwp import errors
from bwp.iceberg.commit import replace_days, replaced_days
from bwp.lake.partition import Partition
from bwp.states import commit_curated

from bwp_lake.emulator.reports import ADDED_COLUMN
from bwp_lake.local.engine import BUCKET, ApiEndpoint, LocalEngine
from bwp_lake.local.lake_sql import LakeSql
from bwp_lake.local.lake_tables import LakeDirTables
from tests.twin import ROWS_PER_DAY, emulator  # noqa: F401 - the emulator fixture

REPORT = "ORDER_FEES"
DAY, NEXT_DAY, THIRD_DAY = "2024-08-21", "2024-08-22", "2024-08-23"
COMMIT_FUNCTION = "bwp-commit-curated"


def days(first: str, end: str) -> dict:
    return {"reportTypes": [REPORT], "startDate": first, "endDate": end}


@pytest.fixture
def engine_on(emulator, tmp_path) -> Callable[..., LocalEngine]:  # noqa: F811 - the fixture above
    """Engines on the emulator writing through to the test's lake directory, one run after another
    (``with engine_on() as engine``), as `local-run` does."""

    def build(**options) -> LocalEngine:
        credentials = emulator.credentials
        endpoint = ApiEndpoint.one_store(
            emulator.base_url, credentials["clientId"], credentials["clientSecret"], credentials["targetId"]
        )
        return LocalEngine(endpoint, lake_dir=tmp_path, **options)

    return build


def rows_per_day(lake: Path) -> Counter:
    """The curated table's rows per day, as the views and named queries read it."""
    with LakeSql(lake) as sql:
        _, rows = sql.query("SELECT CAST(dt AS VARCHAR), count(*) FROM order_fees GROUP BY dt")
    return Counter(dict(rows))


def manifest(engine: LocalEngine, day: str) -> dict | None:
    key = Partition("default", REPORT, datetime.fromisoformat(day).date()).manifest_key
    listing = engine.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [])
    return json.loads(engine.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()) if listing else None


def test_a_day_run_three_times_is_replaced_each_time_and_never_doubles(engine_on, tmp_path):
    # given a day landed, then run again twice (each run a new report task: a restatement)
    task_ids = []
    for _ in range(3):
        with engine_on() as engine:
            outcome = engine.run(days(DAY, NEXT_DAY))
            assert outcome.succeeded, outcome.cause
            task_ids.append(manifest(engine, DAY)["taskId"])
        # then after each run the table holds the day's rows once
        assert rows_per_day(tmp_path) == {DAY: ROWS_PER_DAY}
    # and three snapshots, each recording the day it replaced with the task it came from
    table = LakeDirTables(tmp_path).table(REPORT)
    lineage = [[(r.day.isoformat(), r.task_id) for r in replaced_days(s)] for s in table.snapshots()]
    assert lineage == [[(DAY, task_id)] for task_id in task_ids]
    assert len(set(task_ids)) == 3


def test_two_executions_committing_to_one_table_land_each_day_once(engine_on, tmp_path):
    # given two overlapping executions, as a schedule and a backfill: both land the middle day
    with engine_on() as engine:
        outcomes = engine.run_together([days(DAY, THIRD_DAY), days(NEXT_DAY, "2024-08-24")])
        # then both succeed, each having committed to the same table
        assert [outcome.succeeded for outcome in outcomes] == [True, True]
        commits = [i for i in engine.invocations(COMMIT_FUNCTION) if i.result]
        assert len(commits) == 2
    # and every day is in the table once, the shared one with one run's rows, not both
    assert rows_per_day(tmp_path) == {DAY: ROWS_PER_DAY, NEXT_DAY: ROWS_PER_DAY, THIRD_DAY: ROWS_PER_DAY}


def test_a_commit_that_fails_leaves_readers_on_the_previous_snapshot_and_the_days_unlanded(engine_on, tmp_path):
    # given a landed day
    with engine_on() as engine:
        assert engine.run(days(DAY, NEXT_DAY)).succeeded
        landed = manifest(engine, DAY)
    before = LakeDirTables(tmp_path).table(REPORT).current_snapshot().snapshot_id
    # when a run of that day and the next lands both, and then its commit fails for good
    broken = mock.patch.object(commit_curated, "replace_days", side_effect=RuntimeError("the catalog is gone"))
    with engine_on() as engine, broken:
        outcome = engine.run(days(DAY, THIRD_DAY))
        # then the execution fails, naming both windows and the commit's error
        assert outcome.status == "FAILED" and outcome.error == "WindowsFailed"
        failed = [line for line in outcome.summary["lines"] if ": FAILED " in line]
        assert len(failed) == 2 and all("RuntimeError" in line and "the catalog is gone" in line for line in failed)
        # and neither day was published: the landed day keeps its manifest, the new one has none
        assert manifest(engine, DAY) == landed
        assert manifest(engine, NEXT_DAY) is None
    # and readers stay on the previous snapshot
    assert LakeDirTables(tmp_path).table(REPORT).current_snapshot().snapshot_id == before
    assert rows_per_day(tmp_path) == {DAY: ROWS_PER_DAY}


def test_a_commit_that_loses_its_race_is_retried_by_the_state_machine(engine_on, tmp_path):
    # given a commit whose first attempt finds another writer committed first on each of its tries
    attempts = []

    def lose_once(*arguments, **options):
        attempts.append(1)
        if len(attempts) == 1:
            raise errors.CuratedCommitConflict("another writer committed first on each of 4 attempts")
        return replace_days(*arguments, **options)

    with engine_on() as engine, mock.patch.object(commit_curated, "replace_days", side_effect=lose_once):
        outcome = engine.run(days(DAY, NEXT_DAY))
        # then the state machine ran the commit again, and the day landed
        assert outcome.succeeded, outcome.cause
        assert [i.error_type for i in engine.invocations(COMMIT_FUNCTION)] == ["CuratedCommitConflict", None]
        assert manifest(engine, DAY) is not None
    assert rows_per_day(tmp_path) == {DAY: ROWS_PER_DAY}


def test_a_drifted_column_becomes_a_table_column_and_time_travel_shows_the_day_before(
    engine_on,
    tmp_path,
    emulator,  # noqa: F811 - the fixture above
):
    # given a day landed as the registry describes it
    with engine_on() as engine:
        assert engine.run(days(DAY, NEXT_DAY)).succeeded
    before_restatement = datetime.now(UTC)
    # when the API restates it with a column the registry does not know
    emulator.set_faults(header_drift="add")
    with engine_on() as engine:
        outcome = engine.run(days(DAY, NEXT_DAY))
        assert outcome.succeeded, outcome.cause
        # then the day is still flagged as drifted
        assert manifest(engine, DAY)["drift"] is not None
        assert "header drift" in outcome.summary["lines"][0]
    # and the column is a column of the table, holding the served value
    added = f"extra_{'marketplace_id'}"
    with LakeSql(tmp_path) as sql:
        _, values = sql.query(f"SELECT DISTINCT {added} FROM order_fees_curated")
    assert values == [(ADDED_COLUMN[1],)]
    # and the table as it was before the restatement has the day's rows without it
    earlier = LakeDirTables(tmp_path).rows(REPORT, as_of=before_restatement)
    assert earlier.num_rows == ROWS_PER_DAY and added not in earlier.column_names

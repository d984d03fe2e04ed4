"""End to end on the local engine: the API twin -> the real ASL -> S3, byte for byte.

The normal path; every fault class has its own tests in tests/faults.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import datetime

import pyarrow.parquet as pq
import pytest
import requests
from bwp.errors import readable_cause

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.local.engine import BUCKET
from tests.twin import ROWS_PER_DAY, SEED, assert_landed, calls, keys

TWO_DAYS = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-08-21", "endDate": "2024-08-23"}


def test_both_report_types_land_byte_exact_with_manifests(engine_for):
    # given an engine on the emulator
    engine = engine_for()
    # when two days of both report types are ingested
    outcome = engine.run(TWO_DAYS)
    # then the execution succeeds and every partition holds exactly what the API served
    assert outcome.succeeded, outcome.cause
    assert outcome.summary["landed"] == 4
    for report_type in ("ORDER_FEES", "USER_EVENTS"):
        for day in ("2024-08-21", "2024-08-22"):
            manifest = assert_landed(engine, report_type, day)
            assert manifest["drift"] is None
            assert manifest["taskId"].startswith(f"{report_type}:")
            # and its curated file holds the same rows, as the manifest says
            curated = engine.s3.get_object(Bucket=BUCKET, Key=manifest["curated"]["key"])["Body"].read()
            assert pq.read_table(io.BytesIO(curated)).num_rows == manifest["curated"]["rows"] == manifest["rows"]
            assert manifest["curated"]["sha256"] == hashlib.sha256(curated).hexdigest()
    # and nothing but report data lives under the table locations
    assert all(key.endswith(".csv.gz") for key in keys(engine, "reports/"))
    assert all(key.endswith(".parquet") for key in keys(engine, "curated/"))


def test_six_windows_never_exceed_five_tasks_in_progress_even_with_another_client_busy(engine_for, emulator):
    # given another client of the same merchant holding all five report tasks in progress (one-day
    # reports, so that they end within our throttling retries' budget): our first start is refused
    token = requests.post(
        f"{emulator.base_url}/token",
        data={"grant_type": "client_credentials", "client_id": "local-client", "client_secret": "local-secret"},
        timeout=5,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "x-api-target-id": "local-target", "x-api-version": "2024-11-01"}
    for _ in range(5):
        document = (
            'mutation StartReportTask { startReportTask(input: {reportType: "ORDER_FEES", timeRange: '
            '{startDate: "2024-07-01T00:00:00Z", endDate: "2024-07-02T00:00:00Z"}}) { taskId } }'
        )
        answer = requests.post(f"{emulator.base_url}/graphql", json={"query": document}, headers=headers, timeout=5)
        assert answer.json()["data"]["startReportTask"]["taskId"]
    engine = engine_for()
    # when six windows run, five at a time
    outcome = engine.run({"startDate": "2024-08-20", "endDate": "2024-08-23"})
    # then the API throttled some starts, the state machine retried them, and every window landed
    throttled = [call for call in calls(outcome, "bwp-start-report") if call.error_type == "ThrottlingException"]
    assert throttled, "the busy client should have caused ThrottlingException"
    assert outcome.succeeded, outcome.cause
    assert outcome.summary["landed"] == 6
    assert emulator.state()["maxConcurrentInProgress"] <= 5


@pytest.mark.parametrize(
    ("execution_input", "error", "message"),
    [
        ({"reportTypes": ["ORDER_FEES", "INVENTORY"]}, "UnknownReportType", "reportTypes: unknown report type"),
        ({"lookbackDays": "3"}, "InvalidExecutionInput", 'lookbackDays: must be an integer, got "3"'),
        (None, "InvalidExecutionInput", "execution input: must be a JSON object, got null"),
        ({"startDate": "2023-12-31", "endDate": "2024-01-02"}, "InvalidExecutionInput", "startDate: the first day"),
    ],
)
def test_bad_input_fails_in_plan_windows_before_any_report_task_starts(
    engine_for, emulator, execution_input, error, message
):
    # when the workflow is started with a malformed input
    outcome = engine_for().run(execution_input)
    # then Plan windows fails the execution naming the field, and no report task was started
    assert outcome.status == "FAILED"
    assert outcome.error == error
    assert readable_cause(outcome.cause).startswith(message)
    assert [invocation.function for invocation in outcome.invocations] == ["bwp-plan-windows"]
    assert emulator.state()["calls"].get("startReportTask", 0) == 0


def test_windows_waiting_together_each_wake_when_their_own_wait_ends(engine_for):
    # given six windows of reports that take minutes, five at a time, each polled on its own
    # schedule, and a record of the API's time whenever a check returns
    checks: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=2000.0)) as api:

        def record(invocation):
            if invocation.function == "bwp-check-report" and invocation.result:
                window = invocation.event["window"]
                checks.setdefault((window["reportType"], window["day"]), []).append(
                    (api.now(), invocation.result["waitSeconds"])
                )

        # when they run on virtual time
        outcome = engine_for(record, api=api).run({"startDate": "2024-08-20", "endDate": "2024-08-23"})
    assert outcome.succeeded, outcome.cause
    # then every window's next check came when the wait it asked for ended, not when another
    # window's longer wait did
    assert len(checks) == 6
    for window, answers in checks.items():
        assert len(answers) >= 3, window
        for (checked_at, wait), (next_checked_at, _) in itertools.pairwise(answers):
            waited = (next_checked_at - checked_at).total_seconds()
            assert wait <= waited <= wait + 3, f"{window}: asked to wait {wait} s, waited {waited:.1f} s"

"""End to end on the local engine: the API twin -> the real ASL -> S3, byte for byte."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date

import pyarrow.parquet as pq
import pytest
import requests
from bwp.errors import readable_cause
from bwp.polling import MAX_WAIT_SECONDS
from bwp.windows import MAX_POLLS

from emulator import Emulator, EmulatorConfig
from local.engine import BUCKET, ApiEndpoint, LocalEngine
from tests.workflow.support import ROWS_PER_DAY, SEED, calls, keys, landed_csv, served_csv

TWO_DAYS = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-08-21", "endDate": "2024-08-23"}


def starts(outcome, day=None):
    return [
        call.event["attempt"]
        for call in calls(outcome, "bwp-start-report")
        if call.error_type is None and (day is None or call.event["window"]["day"] == day)
    ]


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
            key = f"reports/report_type={report_type}/dt={day}/{report_type}_{day}.csv.gz"
            served = served_csv(report_type, date.fromisoformat(day))
            assert landed_csv(engine, key) == served
            manifest = json.loads(
                engine.s3.get_object(Bucket=BUCKET, Key=f"manifests/report_type={report_type}/dt={day}.json")[
                    "Body"
                ].read()
            )
            assert manifest["rows"] == len(list(csv.reader(io.StringIO(served.decode())))) - 1
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
    # given another client of the same merchant holding three report tasks in progress, each over
    # thirty days, so that they outlast the first of our one-day reports however the clock moves
    token = requests.post(
        f"{emulator.base_url}/token",
        data={"grant_type": "client_credentials", "client_id": "local-client", "client_secret": "local-secret"},
        timeout=5,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "x-api-target-id": "local-target", "x-api-version": "2024-11-01"}
    for _ in range(3):
        document = (
            'mutation StartReportTask { startReportTask(input: {reportType: "ORDER_FEES", timeRange: '
            '{startDate: "2024-07-01T00:00:00Z", endDate: "2024-07-31T00:00:00Z"}}) { taskId } }'
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


def test_a_failed_report_is_restarted_and_lands(engine_for, emulator):
    # given reports that fail, until the first failure has been seen
    emulator.set_faults(fail_reports="always")

    def heal_after_first_failure(invocation):
        if invocation.error_type == "ReportFailed":
            emulator.set_faults(fail_reports=0)

    engine = engine_for(heal_after_first_failure)
    # when one window runs
    outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-22", "endDate": "2024-08-23"})
    # then it was started twice and landed on the second attempt
    assert outcome.succeeded, outcome.cause
    assert starts(outcome) == [1, 2]
    assert landed_csv(engine, keys(engine, "reports/")[0]) == served_csv("ORDER_FEES", date(2024, 8, 22))


def test_a_report_that_keeps_failing_fails_the_execution_naming_the_window(engine_for, emulator):
    # given an API whose reports always fail
    emulator.set_faults(fail_reports="always")
    engine = engine_for()
    # when two windows run
    outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-21", "endDate": "2024-08-23"})
    # then each was tried three times, nothing landed, and the failure names each window and cause
    assert outcome.status == "FAILED"
    assert outcome.error == "WindowsFailed"
    assert "ORDER_FEES 2024-08-21 (ReportFailed" in outcome.cause
    assert "ORDER_FEES 2024-08-22 (ReportFailed" in outcome.cause
    assert sorted(starts(outcome)) == [1, 1, 2, 2, 3, 3]
    assert keys(engine, "reports/") == []


def test_a_task_that_expires_while_waiting_is_restarted(engine_for, emulator):
    # given a report task that expires (seven days) while the workflow waits for it
    expired = []

    def expire_first_task(invocation):
        if invocation.function == "bwp-start-report" and not expired and invocation.result:
            expired.append(invocation.result["taskId"])
            emulator.advance(8 * 24 * 3600)

    engine = engine_for(expire_first_task)
    outcome = engine.run({"reportTypes": ["USER_EVENTS"], "startDate": "2024-08-22", "endDate": "2024-08-23"})
    # then reportTask answered ResourceNotFoundException and the window was started again
    not_found = [call for call in calls(outcome, "bwp-check-report") if call.error_type == "ResourceNotFoundException"]
    assert not_found and expired[0] in not_found[0].error_message
    assert outcome.succeeded, outcome.cause
    assert starts(outcome) == [1, 2]


def test_polling_stops_at_the_cap_with_report_timed_out(engine_for):
    # given an API whose reports take a year to generate
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=365 * 86400.0)) as slow:
        engine = engine_for(api=slow)
        # when one window runs
        outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-22", "endDate": "2024-08-23"})
    # then the window gave up after the poll cap, and the execution says so
    assert outcome.status == "FAILED"
    assert "ReportTimedOut" in outcome.cause
    assert len(calls(outcome, "bwp-check-report")) == MAX_POLLS
    # and the waits grew to the five-minute ceiling instead of hammering the API
    waits = [call.result["waitSeconds"] for call in calls(outcome, "bwp-check-report") if call.result]
    assert waits == sorted(waits) and waits[-1] == MAX_WAIT_SECONDS


@pytest.mark.parametrize(
    ("execution_input", "error", "message"),
    [
        ({"reportTypes": ["ORDER_FEES", "INVENTORY"]}, "UnknownReportType", "reportTypes: unknown report type"),
        ({"lookbackDays": "3"}, "InvalidExecutionInput", 'lookbackDays: must be an integer, got "3"'),
        (None, "InvalidExecutionInput", "execution input: must be a JSON object, got null"),
        ({"startDate": "2023-12-31", "endDate": "2024-01-02"}, "InvalidExecutionInput", "startDate: the first day"),
    ],
)
def test_bad_input_fails_in_plan_windows_before_any_report_task_starts(engine_for, emulator, execution_input,
                                                                        error, message):
    # when the workflow is started with a malformed input
    outcome = engine_for().run(execution_input)
    # then Plan windows fails the execution naming the field, and no report task was started
    assert outcome.status == "FAILED"
    assert outcome.error == error
    assert readable_cause(outcome.cause).startswith(message)
    assert [invocation.function for invocation in outcome.invocations] == ["bwp-plan-windows"]
    assert emulator.state()["calls"].get("startReportTask", 0) == 0


def test_bad_credentials_fail_the_run_once_before_any_window_starts(emulator):
    # given the right client id with a wrong secret
    credentials = emulator.credentials
    endpoint = ApiEndpoint(emulator.base_url, credentials["clientId"], "not-the-secret", credentials["targetId"])
    with LocalEngine(endpoint) as engine:
        # when a week of both report types is asked for
        outcome = engine.run({"lookbackDays": 7})
    # then Plan windows refuses, naming the credentials, after one token request and no task
    assert outcome.status == "FAILED" and outcome.error == "AccessDeniedException"
    assert "check clientId and clientSecret" in outcome.cause
    assert calls(outcome, "bwp-start-report") == []
    assert emulator.state()["calls"]["token"] == 1 and emulator.state()["tasks"] == []


def test_header_drift_still_lands_and_is_flagged(engine_for, emulator):
    emulator.set_faults(header_drift="rename")
    engine = engine_for()
    outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-22", "endDate": "2024-08-23"})
    assert outcome.succeeded, outcome.cause
    assert outcome.summary["drifted"] == ["ORDER_FEES 2024-08-22"]
    manifest = json.loads(
        engine.s3.get_object(Bucket=BUCKET, Key="manifests/report_type=ORDER_FEES/dt=2024-08-22.json")["Body"].read()
    )
    assert manifest["drift"]["missing"] and manifest["drift"]["unexpected"]
    # and the curated file keeps every renamed column, as text beside the registry's columns
    assert len(manifest["curated"]["extraColumns"]) == len(manifest["drift"]["unexpected"])
    curated = engine.s3.get_object(Bucket=BUCKET, Key=manifest["curated"]["key"])["Body"].read()
    table = pq.read_table(io.BytesIO(curated))
    assert set(manifest["curated"]["extraColumns"]) <= set(table.schema.names)
    assert table.num_rows == manifest["rows"]


def test_broken_and_gzip_downloads_resume_and_land_byte_exact(engine_for, emulator):
    emulator.set_faults(drop_download_after_bytes=700, gzip_downloads=True)
    engine = engine_for()
    outcome = engine.run({"reportTypes": ["USER_EVENTS"], "startDate": "2024-08-22", "endDate": "2024-08-23"})
    assert outcome.succeeded, outcome.cause
    key = "reports/report_type=USER_EVENTS/dt=2024-08-22/USER_EVENTS_2024-08-22.csv.gz"
    assert landed_csv(engine, key) == served_csv("USER_EVENTS", date(2024, 8, 22))


def test_a_rerun_replaces_partitions_and_never_duplicates(engine_for):
    engine = engine_for()
    request = {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-21", "endDate": "2024-08-23"}
    first = engine.run(request)
    before = keys(engine, "")
    second = engine.run(request)
    # then the same keys hold the second run's landing: replaced, not added
    assert first.succeeded and second.succeeded
    assert keys(engine, "") == before
    assert len(keys(engine, "reports/")) == 2
    manifest = json.loads(
        engine.s3.get_object(Bucket=BUCKET, Key="manifests/report_type=ORDER_FEES/dt=2024-08-21.json")["Body"].read()
    )
    assert manifest["executionId"] == second.execution_arn != first.execution_arn

"""The land step without Lambda: a completed report on the emulator -> partition, manifest, metrics."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import date

import boto3
import pyarrow.parquet as pq
import pytest
import requests
from botocore.exceptions import ClientError
from bwp import errors
from bwp.client import BwpClient
from bwp.clock import utc_now
from bwp.coordination import TaskLedger
from bwp.credentials import Credentials
from bwp.lake.manifest import CuratedFile, glue_columns
from bwp.lake.settings import Settings
from bwp.lake.stores import DEFAULT_STORE_ID
from bwp.models import LandReportEvent, ReportProgress, Window, WindowLanded
from bwp.observability import metrics
from bwp.states.land_report import land_report
from pydantic import ValidationError

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.emulator.reports import report_bytes
from tests.moto_account import settings_with

DAY = date(2024, 8, 22)
WINDOW = Window(
    store=DEFAULT_STORE_ID,
    report_type="USER_EVENTS",
    day=DAY,
    start_date="2024-08-22T00:00:00Z",
    end_date="2024-08-23T00:00:00Z",
)
WINDOW_RAW_KEY = WINDOW.partition.raw_key


class LocalCredentials:
    def get(self) -> Credentials:
        return Credentials(clientId="local-client", clientSecret="local-secret", targetId="local-target")

    def refresh(self) -> None:
        pass


@pytest.fixture
def completed_report():
    """An emulator, a client, and a USER_EVENTS report for DAY that has completed."""
    with Emulator(EmulatorConfig(seed=5, rows_per_day=25, generation_seconds=10.0)) as emulator:
        client = BwpClient(
            session=requests.Session(),
            token_url=f"{emulator.base_url}/token",
            graphql_url=f"{emulator.base_url}/graphql",
            api_version="2024-11-01",
            credentials=LocalCredentials(),
            timeout=(2.0, 5.0),
        )
        task_id = client.start_report_task("USER_EVENTS", WINDOW.start_date, WINDOW.end_date)
        emulator.advance(120)
        task = client.report_task(task_id)
        progress = ReportProgress(
            task_id=task_id,
            report_type="USER_EVENTS",
            status=task.status,
            polls=3,
            wait_seconds=40,
            request_time=task.request_time,
            last_updated_time=task.last_updated_time,
        )
        yield emulator, client, progress


def values(metric) -> list[float]:
    """EMF writes a metric as one number or as a list of them."""
    return metric if isinstance(metric, list) else [metric]


def settings(allowlist: str) -> Settings:
    return settings_with(DOWNLOAD_HOST_ALLOWLIST=allowlist, DOWNLOAD_PLAIN_HTTP_ON_LOOPBACK="true")


def land(client, s3, table, event: LandReportEvent, allowlist: str = "127.0.0.1") -> WindowLanded:
    """The land step as its handler calls it, downloading from the emulator on loopback."""
    return land_report(
        client=client,
        s3=s3,
        table=table,
        session=requests.Session(),
        settings=settings(allowlist),
        clock=utc_now,
        event=event,
    )


def test_landing_writes_the_partition_the_manifest_and_the_freshness_metric(
    completed_report, state_table, capsys, monkeypatch
):
    # given a completed report that the ledger knows, and an empty lake, with metrics published (as in Lambda)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    _, client, progress = completed_report
    ledger = TaskLedger(state_table, utc_now)
    ledger.record_started(WINDOW.partition, progress.task_id, "arn:exec", 2)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    event = LandReportEvent(window=WINDOW, report=progress, attempt=2, execution_id="arn:exec")
    # when the land step runs
    landed = land(client, s3, state_table, event)
    metrics.flush_metrics()
    # then the partition holds exactly the served report
    served = b"".join(report_bytes("USER_EVENTS", DAY, 5, 25))
    key = WINDOW_RAW_KEY
    assert gzip.decompress(s3.get_object(Bucket="lake", Key=key)["Body"].read()) == served
    # and the manifest records the task, counts, checksum and timings
    manifest = json.loads(s3.get_object(Bucket="lake", Key=WINDOW.partition.manifest_key)["Body"].read())
    assert (manifest["taskId"], manifest["rows"], manifest["attempts"]) == (progress.task_id, 25, 2)
    assert manifest["bytesIn"] == len(served) and manifest["drift"] is None and manifest["provisionalSchema"]
    assert manifest["timings"]["polls"] == 3 and manifest["timings"]["generationSeconds"] >= 0
    assert (landed.rows, landed.attempts) == (25, 2)
    # and the ledger knows the window landed, so that no later run adopts its task
    assert ledger.find(WINDOW.partition).status == "LANDED"
    # and the metrics the freshness alarm and dashboard read were published for the report type
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert emf["ReportType"] == "USER_EVENTS" and emf["service"] == "bwp-report-lake"
    assert values(emf["PartitionsLanded"]) == [1] and values(emf["RowsLanded"]) == [25]
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"PartitionsLanded", "RowsLanded", "BytesLanded", "ReportGenerationSeconds"} <= names
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BwpReportLake"


def test_a_download_host_off_the_allowlist_is_refused_and_nothing_lands(completed_report, state_table):
    # given a completed report whose links point at a host off the allowlist
    emulator, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    event = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec")
    # when the land step runs, then it refuses the host
    with pytest.raises(errors.DownloadHostNotAllowed, match="127.0.0.1"):
        land(client, s3, state_table, event, allowlist="*.amazonaws.com")
    # and it asked for the link but never downloaded from it, and nothing landed
    calls = emulator.state()["calls"]
    assert (calls["reportDownloadLink"], calls["download"]) == (1, 0)
    assert "Contents" not in s3.list_objects_v2(Bucket="lake")


CURATED_KEY = WINDOW.partition.curated_key
MANIFEST_KEY = WINDOW.partition.manifest_key


def test_landing_writes_the_curated_file_the_manifest_describes_and_a_rerun_replaces_it(completed_report, state_table):
    # given a completed report, and a stale object where its curated file goes
    _, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key=CURATED_KEY, Body=b"stale")
    event = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec")
    # when the land step runs
    land(client, s3, state_table, event)
    # then the curated object replaced the stale one, and the manifest records its rows, bytes and checksum
    body = s3.get_object(Bucket="lake", Key=CURATED_KEY)["Body"].read()
    manifest = json.loads(s3.get_object(Bucket="lake", Key=MANIFEST_KEY)["Body"].read())
    assert manifest["curated"]["key"] == CURATED_KEY
    described = (manifest["curated"]["bytes"], manifest["curated"]["sha256"])
    assert described == (len(body), hashlib.sha256(body).hexdigest())
    # and its rows are the raw report's rows
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == manifest["curated"]["rows"] == manifest["rows"] == 25
    raw = gzip.decompress(s3.get_object(Bucket="lake", Key=WINDOW_RAW_KEY)["Body"].read()).decode()
    assert table.column("event_id").to_pylist() == [row["eventId"] for row in csv.DictReader(io.StringIO(raw))]


def failing_staged_curated_uploads(s3) -> None:
    """S3 failing every part of an upload of a staged Parquet object (a 500: transient)."""

    def fail(params, **_):
        if params["auth_path"].startswith("/lake/staging/") and params["auth_path"].endswith(".parquet"):
            raise ClientError(
                {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "UploadPart"
            )

    s3.meta.events.register("before-call.s3.UploadPart", fail)


def lake_objects(s3) -> dict[str, bytes]:
    return {
        item["Key"]: s3.get_object(Bucket="lake", Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket="lake").get("Contents", [])
    }


def test_a_curated_upload_that_fails_leaves_nothing_in_any_table_location(completed_report, state_table):
    # given S3 failing every part of the curated object's upload
    _, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    failing_staged_curated_uploads(s3)
    event = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec")
    # when the land step runs, then it fails with the error the state machine retries
    with pytest.raises(errors.AwsUnavailable, match="staging/"):
        land(client, s3, state_table, event)
    # and the raw object is in no table location, nor left staged; no upload is open
    assert lake_objects(s3) == {}
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="lake")


def test_a_rerun_of_a_landed_day_that_fails_keeps_the_landed_day_whole(completed_report, state_table):
    # given a landed day
    _, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    first = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec:first")
    land(client, s3, state_table, first)
    landed = lake_objects(s3)
    # when the day runs again and its curated write fails
    failing_staged_curated_uploads(s3)
    again = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec:again")
    with pytest.raises(errors.AwsUnavailable):
        land(client, s3, state_table, again)
    # then the raw file, the curated file and the manifest are the first landing's, byte for byte
    assert lake_objects(s3) == landed
    assert {key.split("/")[0] for key in landed} == {"reports", "curated", "manifests"}


def glue_members(column_type: str) -> dict[str, str]:
    """The members of a Glue ``struct<name:type,...>``, each with its type."""
    body = column_type.removeprefix("struct<").removesuffix(">")
    members, depth, start = {}, 0, 0
    for position, character in enumerate(body + ","):
        depth += {"<": 1, ">": -1}.get(character, 0)
        if character == "," and depth == 0:
            name, _, kind = body[start:position].partition(":")
            members[name] = kind
            start = position + 1
    return members


def keys_missing_from(value: dict, columns: dict[str, str], path: str = "") -> list[str]:
    """The manifest's keys, nested ones included, that no Glue column (or struct member) reads."""
    missing = []
    for key, item in value.items():
        column = columns.get(key.lower())
        if column is None:
            missing.append(path + key)
        elif isinstance(item, dict):
            missing += keys_missing_from(item, glue_members(column), f"{path}{key}.")
    return missing


def test_every_key_of_a_landed_manifest_is_a_glue_column_and_the_shape_is_kept(completed_report, state_table):
    # given a completed report that an earlier run started, and an empty lake
    _, client, progress = completed_report
    progress = progress.model_copy(update={"adopted": True, "started_by": "arn:exec:earlier"})
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    event = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec")
    # when the land step writes its manifest
    land(client, s3, state_table, event)
    body = s3.get_object(Bucket="lake", Key=MANIFEST_KEY)["Body"].read()
    manifest = json.loads(body)
    # then Athena reads every key of it, nested keys included
    assert keys_missing_from(manifest, dict(glue_columns())) == []
    # and it is one compact JSON line with its keys in their order, the store first
    assert body.endswith(b"}\n") and body.count(b"\n") == 1 and b", " not in body
    assert list(manifest) == [
        "store",
        "targetId",
        "reportType",
        "day",
        "taskId",
        "key",
        "rows",
        "bytesIn",
        "bytesOut",
        "sha256",
        "columns",
        "expectedColumns",
        "provisionalSchema",
        "drift",
        "curated",
        "landedAt",
        "timings",
        "download",
        "attempts",
        "executionId",
        "task",
    ]
    assert list(manifest["curated"]) == [
        "key",
        "rows",
        "rowsSkipped",
        "bytes",
        "sha256",
        "rowGroups",
        "extraColumns",
        "invalidUtf8Values",
    ]
    assert list(manifest["timings"]) == [
        "requestedAt",
        "completedAt",
        "generationSeconds",
        "polls",
        "landingStartedAt",
        "landingSeconds",
        "curatedSeconds",
    ]
    assert list(manifest["download"]) == ["sourceGzip", "linkRefreshes", "resumes", "parts"]
    assert manifest["task"] == {"adopted": True, "startedBy": "arn:exec:earlier"}


def test_a_manifest_part_with_a_key_the_model_lacks_is_refused():
    # given the curated part of a manifest with a key the model does not declare
    curated = {
        "key": "k",
        "rows": 1,
        "rowsSkipped": 0,
        "bytes": 9,
        "sha256": "0" * 64,
        "rowGroups": 1,
        "extraColumns": [],
        "footerBytes": 4,
    }
    # when it is read into the model, then it is refused rather than dropped from the manifest
    with pytest.raises(ValidationError, match="footerBytes"):
        CuratedFile.model_validate(curated)

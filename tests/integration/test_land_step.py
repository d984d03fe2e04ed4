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


def test_landing_stages_the_report_and_its_manifest_and_publishes_nothing(
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
    # then the staged raw object is exactly the served report
    served = b"".join(report_bytes("USER_EVENTS", DAY, 5, 25))
    assert landed.staged_raw_key.startswith("staging/")
    assert gzip.decompress(s3.get_object(Bucket="lake", Key=landed.staged_raw_key)["Body"].read()) == served
    assert landed.raw_sha256 == hashlib.sha256(served).hexdigest()
    # and the staged manifest records the task, counts, checksum and timings, and where it will be published
    manifest = json.loads(s3.get_object(Bucket="lake", Key=landed.staged_manifest_key)["Body"].read())
    assert (manifest["taskId"], manifest["rows"], manifest["attempts"]) == (progress.task_id, 25, 2)
    assert manifest["key"] == WINDOW_RAW_KEY and manifest["store"] == WINDOW.store
    assert manifest["bytesIn"] == len(served) and manifest["drift"] is None and manifest["provisionalSchema"]
    assert manifest["timings"]["polls"] == 3 and manifest["timings"]["generationSeconds"] >= 0
    assert (landed.rows, landed.attempts) == (25, 2)
    # and nothing is published: no raw report in the table location, no manifest (the commit publishes)
    published = [item["Key"] for item in s3.list_objects_v2(Bucket="lake").get("Contents", [])]
    assert not [key for key in published if key.startswith(("reports/", "manifests/"))]
    # and the generation time is published for the report type of the store
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert (emf["ReportType"], emf["Store"], emf["service"]) == ("USER_EVENTS", WINDOW.store, "bwp-report-lake")
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert "ReportGenerationSeconds" in names
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


def test_landing_writes_a_data_file_of_its_own_that_the_manifest_describes_and_a_rerun_never_overwrites(
    completed_report, state_table
):
    # given a completed report
    _, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    event = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec")
    # when the land step runs
    landed = land(client, s3, state_table, event)
    # then its data file is in the curated table's folder of the day, and the manifest records its
    # rows, bytes and checksum
    assert landed.data_key.rsplit("/", 1)[0] == WINDOW.partition.curated_data_key("x").rsplit("/", 1)[0]
    body = s3.get_object(Bucket="lake", Key=landed.data_key)["Body"].read()
    manifest = json.loads(s3.get_object(Bucket="lake", Key=landed.staged_manifest_key)["Body"].read())
    assert manifest["curated"]["key"] == landed.data_key
    described = (manifest["curated"]["bytes"], manifest["curated"]["sha256"])
    assert described == (len(body), hashlib.sha256(body).hexdigest())
    # and its rows are the raw report's rows
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == manifest["curated"]["rows"] == manifest["rows"] == 25
    raw = gzip.decompress(s3.get_object(Bucket="lake", Key=landed.staged_raw_key)["Body"].read()).decode()
    assert table.column("event_id").to_pylist() == [row["eventId"] for row in csv.DictReader(io.StringIO(raw))]
    # and a second landing of the same day writes a file of its own, leaving the first one's bytes
    again = land(client, s3, state_table, event)
    assert again.data_key != landed.data_key
    assert s3.get_object(Bucket="lake", Key=landed.data_key)["Body"].read() == body


def failing_data_file_uploads(s3) -> None:
    """S3 failing every part of an upload of a Parquet data file (a 500: transient)."""

    def fail(params, **_):
        if params["auth_path"].endswith(".parquet"):
            raise ClientError(
                {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "UploadPart"
            )

    s3.meta.events.register("before-call.s3.UploadPart", fail)


def lake_objects(s3) -> dict[str, bytes]:
    return {
        item["Key"]: s3.get_object(Bucket="lake", Key=item["Key"])["Body"].read()
        for item in s3.list_objects_v2(Bucket="lake").get("Contents", [])
    }


def test_a_data_file_upload_that_fails_leaves_nothing_behind(completed_report, state_table):
    # given S3 failing every part of the data file's upload
    _, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    failing_data_file_uploads(s3)
    event = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec")
    # when the land step runs, then it fails with the error the state machine retries
    with pytest.raises(errors.AwsUnavailable, match="parquet"):
        land(client, s3, state_table, event)
    # and nothing is left: no staged raw report, no data file, no open upload
    assert lake_objects(s3) == {}
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="lake")


def test_a_rerun_of_a_landed_day_that_fails_leaves_the_first_landings_objects_as_they_were(
    completed_report, state_table
):
    # given a landed day
    _, client, progress = completed_report
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    first = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec:first")
    land(client, s3, state_table, first)
    landed = lake_objects(s3)
    # when the day runs again and its data file's upload fails
    failing_data_file_uploads(s3)
    again = LandReportEvent(window=WINDOW, report=progress, execution_id="arn:exec:again")
    with pytest.raises(errors.AwsUnavailable):
        land(client, s3, state_table, again)
    # then the lake holds the first landing's objects, byte for byte, and nothing of the second
    assert lake_objects(s3) == landed
    assert {key.split("/")[0] for key in landed} == {"staging", "iceberg"}


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
    landed = land(client, s3, state_table, event)
    body = s3.get_object(Bucket="lake", Key=landed.staged_manifest_key)["Body"].read()
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

"""Shared by the tests of the commands that read a lake (gaps, status): a deployed stack in moto,
its bucket and state table found through the stack's outputs, and a local lake directory with
the manifests and the ledger's failures a run leaves there. Keys come from the partitions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pytest
from bwp.coordination import TaskLedger
from bwp.lake.partition import Partition
from bwp.lake.stores import DEFAULT_STORE_ID
from moto import mock_aws

from bwp_lake.infra.outputs import DATA_BUCKET, STATE_TABLE, STORE_IDS
from bwp_lake.local.engine import create_state_table
from bwp_lake.local.lake_state import written_through

REGION = "us-east-1"
STACK = "BwpReportLakeTest"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Credentials for moto, none of the machine's, in every test module that imports this."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def partition(report_type: str, day: str, store: str = DEFAULT_STORE_ID) -> Partition:
    return Partition(store, report_type, date.fromisoformat(day))


def _ledger(table) -> TaskLedger:
    return TaskLedger(table, lambda: datetime(2024, 8, 3, tzinfo=UTC))


def land(root: Path, landed: Partition, manifest: dict | None = None) -> None:
    """The manifest that says ``landed`` landed, in the lake directory ``root``."""
    path = root / landed.manifest_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest or {}))


def remember_failures(root: Path, *failures: tuple[Partition, str, str]) -> None:
    """(partition, error, cause): recorded by the task ledger in a table written through to the
    lake directory ``root``, as a local run records them."""
    with mock_aws():
        table = create_state_table()
        with written_through(root, table.name):
            for failed, error, cause in failures:
                _ledger(table).record_failure(failed, error, cause, "arn:execution")


def deploy_lake(manifest_body: bytes, stores: tuple[str, ...] = ("default",)) -> None:
    """Inside moto: a stack whose lake holds the store default's ORDER_FEES 2024-08-01 (this
    manifest) and whose ledger remembers 2024-08-02 failed."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key=partition("ORDER_FEES", "2024-08-01").manifest_key, Body=manifest_body)
    table = create_state_table()
    _ledger(table).record_failure(partition("ORDER_FEES", "2024-08-02"), "ReportFailed", "task FAILED", "arn:execution")
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            DATA_BUCKET: {"Value": "lake"},
            STATE_TABLE: {"Value": table.name},
            STORE_IDS: {"Value": ",".join(stores)},
        },
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))

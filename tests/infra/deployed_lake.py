"""Shared by the tests of the commands that read a lake (gaps, status): a deployed stack in moto,
its bucket and state table found through the stack's outputs, and the manifest keys they read."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import boto3
import pytest
from bwp.coordination import TaskLedger
from bwp.lake.partition import Partition

from bwp_lake.infra.outputs import DATA_BUCKET, STATE_TABLE
from bwp_lake.local.engine import create_state_table

REGION = "us-east-1"
STACK = "BwpReportLakeTest"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    """Credentials for moto, none of the machine's, in every test module that imports this."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def manifest_key(report_type: str, day: str) -> str:
    return f"manifests/report_type={report_type}/dt={day}.json"


def deploy_lake(manifest_body: bytes) -> None:
    """Inside moto: a stack whose lake holds ORDER_FEES 2024-08-01 (this manifest) and whose
    ledger remembers 2024-08-02 failed."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key=manifest_key("ORDER_FEES", "2024-08-01"), Body=manifest_body)
    table = create_state_table()
    TaskLedger(table, lambda: datetime(2024, 8, 3, tzinfo=UTC)).record_failure(
        Partition("ORDER_FEES", date(2024, 8, 2)), "ReportFailed", "task FAILED", "arn:execution"
    )
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {DATA_BUCKET: {"Value": "lake"}, STATE_TABLE: {"Value": table.name}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))

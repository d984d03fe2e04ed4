"""Fixtures of the unit and integration tests: one moto account, the lake bucket, the state table, settings."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from bwp.lake.settings import Settings
from bwp.lake.stores import DEFAULT_STORE_ID
from moto import mock_aws

from bwp_lake.local.engine import REGION, create_state_table

LAKE_BUCKET = "lake"


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    """A moto account: every AWS client a test makes inside it talks to moto."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    with mock_aws():
        yield


@pytest.fixture
def s3(aws):
    """An S3 client on moto with the empty bucket ``lake``."""
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=LAKE_BUCKET)
    return client


@pytest.fixture
def state_table(aws):
    """The ledger and slots table, in moto."""
    return create_state_table()


def settings_with(**environment: str) -> Settings:
    return Settings.from_env(
        {
            "BWP_STORES": json.dumps([{"id": DEFAULT_STORE_ID, "secretId": "s"}]),
            "LAKE_BUCKET": LAKE_BUCKET,
            "STATE_TABLE": "bwp-local-state",
            **environment,
        }
    )

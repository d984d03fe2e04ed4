"""Fixtures the unit tests share."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

LAKE_BUCKET = "lake"


@pytest.fixture
def s3():
    """An S3 client on moto with the empty bucket ``lake``."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LAKE_BUCKET)
        yield client

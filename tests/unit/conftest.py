"""What the unit tests of the steps share: a moto account with the state table, and settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bwp.settings import Settings
from moto import mock_aws

from local.engine import REGION, create_state_table


@pytest.fixture
def state_table(monkeypatch) -> Iterator:
    """The ledger and slots table, in moto."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    with mock_aws():
        yield create_state_table()


def settings_with(**environment: str) -> Settings:
    return Settings.from_env(
        {"BWP_CREDENTIALS_SECRET": "s", "LAKE_BUCKET": "lake", "STATE_TABLE": "bwp-local-state", **environment}
    )

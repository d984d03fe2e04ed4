"""The functions' settings: what an engine writes into their environment is what they read back."""

from datetime import date

import pytest
from bwp.errors import InvalidSettings
from bwp.lake.settings import Settings, function_environment


def test_the_environment_an_engine_writes_reads_back_as_the_same_settings():
    # given settings that differ from every default an engine might set
    written = Settings.of(
        api_base_url="http://127.0.0.1:8123/api",
        api_version="2025-01-31",
        credentials_secret_id="arn:aws:secretsmanager:us-east-1:1:secret:x",
        lake_bucket="a-bucket",
        state_table="a-table",
        task_slots=2,
        download_host_allowlist=("127.0.0.1", "*.example.com"),
        download_plain_http_on_loopback=True,
        connect_timeout_seconds=1.5,
        read_timeout_seconds=12.0,
        projection_start_date=date(2023, 6, 1),
    )
    # when a function reads the environment written from them
    environment = function_environment(written)
    read = Settings.from_env(environment)
    # then it has the same settings, every one named by its alias, and Powertools' names beside them
    assert read == written
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert set(environment) == aliases | {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}


def test_an_engine_is_refused_a_setting_as_a_function_would_refuse_it():
    with pytest.raises(InvalidSettings, match="task_slots"):
        Settings.of(credentials_secret_id="s", lake_bucket="a-bucket", state_table="a-table", task_slots=6)

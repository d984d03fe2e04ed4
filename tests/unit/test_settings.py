"""The functions' settings: what an engine writes into their environment is what they read back."""

from datetime import date
from pathlib import Path

import pytest
from bwp.errors import InvalidSettings
from bwp.lake.settings import Settings, function_environment


def test_the_environment_an_engine_writes_reads_back_as_the_same_settings():
    # given settings that differ from every default an engine might set
    written = Settings.of(
        api_base_url="http://127.0.0.1:8123/api",
        api_version="2025-01-31",
        stores=[
            {"id": "acme", "secretId": "arn:aws:secretsmanager:us-east-1:1:secret:acme"},
            {
                "id": "acme-eu",
                "secretId": "arn:aws:secretsmanager:us-east-1:1:secret:eu",
                "reportTypes": ["ORDER_FEES"],
            },
        ],
        lake_bucket="a-bucket",
        state_table="a-table",
        task_slots=2,
        download_host_allowlist=("127.0.0.1", "*.example.com"),
        download_plain_http_on_loopback=True,
        connect_timeout_seconds=1.5,
        read_timeout_seconds=12.0,
        projection_start_date=date(2023, 6, 1),
        catalog_database="a_database",
        local_catalog_path=Path("/lake/_catalog/catalog.sqlite"),
        snapshot_retention_days=7,
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
        Settings.of(stores=[{"id": "a", "secretId": "s"}], lake_bucket="a-bucket", state_table="a-table", task_slots=6)


@pytest.mark.parametrize(
    ("stores", "problem"),
    [
        ([], "stores: Tuple should have at least 1 item"),
        ([{"id": "Acme", "secretId": "s"}], "stores: String should match pattern"),
        ([{"id": "a", "secretId": "s"}, {"id": "a", "secretId": "t"}], "each store is configured once; repeated: a"),
        ([{"id": "a", "secretId": "s", "reportTypes": ["ORDERS"]}], "unknown report type(s) ORDERS"),
        ("not json", "must be a JSON array of stores"),
    ],
)
def test_a_store_configuration_that_cannot_serve_is_refused_at_cold_start_naming_the_problem(stores, problem):
    with pytest.raises(InvalidSettings) as refused:
        Settings.of(stores=stores, lake_bucket="a-bucket", state_table="a-table")
    assert problem in str(refused.value)


def test_a_store_is_found_by_id_and_one_not_configured_is_named_with_the_configured_ones():
    from bwp.errors import StoreNotConfigured

    settings = Settings.of(stores=[{"id": "a", "secretId": "s"}], lake_bucket="a-bucket", state_table="a-table")
    assert settings.store("a").secret_id == "s"
    with pytest.raises(StoreNotConfigured, match="store 'b' is not configured; configured: a"):
        settings.store("b")

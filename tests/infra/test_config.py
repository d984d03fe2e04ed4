"""cdk.json context: defaults, documentation, and refusal of wrong values before anything deploys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bwp.lake.schemas import REPORT_TYPES

from bwp_lake.infra.config import DEFAULTS, InvalidConfiguration, LakeConfig, StoreSettings

REPO = Path(__file__).resolve().parents[2]
REPORT_TYPES_TUPLE = tuple(REPORT_TYPES)


def context_of(overrides: dict) -> LakeConfig:
    return LakeConfig.from_context(overrides.get)


def test_cdk_json_carries_every_key_with_its_default():
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    settings = {key: value for key, value in context.items() if not key.startswith("@")}
    assert settings == DEFAULTS


def test_the_readme_documents_every_key_with_its_default():
    readme = (REPO / "README.md").read_text()
    for key, default in DEFAULTS.items():
        rows = [line for line in readme.splitlines() if line.startswith(f"| `{key}`")]
        assert rows, f"{key} is not documented"
        shown = json.dumps(default) if default != "" else '""'
        assert f"`{shown}`" in rows[0], f"{key}: default {shown} not shown"


def test_unset_keys_take_their_defaults():
    config = context_of({})
    assert config.lookback_days == 3
    assert config.max_concurrency == 5
    assert config.report_types == ("ORDER_FEES", "USER_EVENTS")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("reportTypes", ["ORDER_FEES", "SALES"]),
        ("reportTypes", []),
        ("maxConcurrency", 6),
        ("lookbackDays", 0),
        ("lookbackDays", "3"),
        ("apiVersion", "2024-1-1"),
        ("apiBaseUrl", "http://api.example.com"),
        ("scheduleExpression", "daily"),
        ("projectionStartDate", "yesterday"),
        ("alarmEmail", "not-an-address"),
        ("databaseName", "Bwp-Lake"),
        ("downloadHostAllowlist", "*.amazonaws.com"),
        ("backfillFrom", "2023-12-31"),
        ("backfillFrom", "last year"),
        ("maxBackfillWindows", 401),
        ("maxBackfillWindows", True),
    ],
)
def test_a_wrong_value_stops_synth_naming_the_key(key, value):
    with pytest.raises(InvalidConfiguration, match=re.escape(key)):
        context_of({key: value})


def test_lookback_is_bounded_as_the_workflow_bounds_a_range():
    from bwp.windows import MAX_RANGE_DAYS

    assert context_of({"lookbackDays": MAX_RANGE_DAYS}).lookback_days == MAX_RANGE_DAYS
    with pytest.raises(InvalidConfiguration, match="lookbackDays"):
        context_of({"lookbackDays": MAX_RANGE_DAYS + 1})


def test_backfill_is_bounded_as_the_workflow_bounds_it_and_only_scheduled_when_configured():
    from bwp.windows import MAX_BACKFILL_WINDOWS, parse_request

    from bwp_lake.infra.schedule import schedule_input

    def scheduled(context: dict) -> dict:
        config = context_of(context)
        (store,) = config.stores
        return schedule_input(config, store)

    assert context_of({"maxBackfillWindows": MAX_BACKFILL_WINDOWS}).max_backfill_windows == MAX_BACKFILL_WINDOWS
    with pytest.raises(InvalidConfiguration, match="maxBackfillWindows"):
        context_of({"maxBackfillWindows": MAX_BACKFILL_WINDOWS + 1})
    assert "backfillFrom" not in scheduled({})
    healing = scheduled({"backfillFrom": "2024-03-01", "maxBackfillWindows": 12})
    assert (healing["backfillFrom"], healing["maxBackfillWindows"]) == ("2024-03-01", 12)
    request = parse_request(healing)
    assert (str(request.backfill_from), request.max_backfill_windows) == ("2024-03-01", 12)


def test_an_unconfigured_stack_gives_the_functions_their_own_defaults():
    from bwp.lake.settings import Settings

    # given no context at all, when the stack writes the functions' settings
    resources = {"lake_bucket": "a-bucket", "state_table": "a-table"}
    written = context_of({}).function_settings(**resources, secret_ids={"default": "a-secret"})
    # then they are the settings a function takes when nothing is set, for the one store "default"
    # and the report types every store ingests unless told otherwise
    default_store = {"id": "default", "secretId": "a-secret", "reportTypes": list(REPORT_TYPES)}
    assert written == Settings.of(**resources, stores=[default_store])


def test_a_deployment_without_stores_serves_one_store_default_with_the_global_settings():
    # given no stores, and the global secret, report types and backfill
    config = context_of(
        {"credentialsSecretName": "merchant/bwp-api", "reportTypes": ["ORDER_FEES"], "backfillFrom": "2024-03-01"}
    )
    # then it serves one store, "default", with them
    assert config.stores == (StoreSettings("default", "merchant/bwp-api", ("ORDER_FEES",), "2024-03-01"),)
    assert context_of({"stores": []}).stores == (StoreSettings("default", "", REPORT_TYPES_TUPLE, ""),)


def test_each_store_overrides_the_global_settings_it_names_and_takes_the_others():
    # given two stores, the first with every override, the second with none
    config = context_of(
        {
            "reportTypes": ["ORDER_FEES", "USER_EVENTS"],
            "backfillFrom": "2024-05-01",
            "stores": [
                {
                    "id": "brand-eu",
                    "credentialsSecretName": "agency/brand-eu",
                    "reportTypes": ["USER_EVENTS"],
                    "backfillFrom": "2024-02-01",
                },
                {"id": "brand-us"},
            ],
        }
    )
    # then the first has its own, and the second the global report types and backfill, and a
    # secret the stack creates
    assert config.stores == (
        StoreSettings("brand-eu", "agency/brand-eu", ("USER_EVENTS",), "2024-02-01"),
        StoreSettings("brand-us", "", ("ORDER_FEES", "USER_EVENTS"), "2024-05-01"),
    )


@pytest.mark.parametrize(
    ("stores", "named"),
    [
        ({"id": "x"}, "context stores: "),
        (["brand-a"], "context stores[0]: 'brand-a' must be an object"),
        ([{"id": "Brand_A"}], "context stores[0].id: 'Brand_A' must be 1-32 lowercase"),
        ([{"id": "-a"}], "context stores[0].id"),
        ([{"reportTypes": ["ORDER_FEES"]}], "context stores[0].id: None"),
        ([{"id": "a"}, {"id": "a"}], "context stores: each store id must be unique; repeated: a"),
        ([{"id": "a"}, {"id": "b", "reportTypes": ["SALES"]}], "context stores[1] (b).reportTypes: unknown"),
        ([{"id": "a", "reportTypes": []}], "context stores[0] (a).reportTypes: [] must be a non-empty list"),
        ([{"id": "a", "backfillFrom": "2023-12-31"}], "stores[0] (a).backfillFrom: 2023-12-31 is before"),
        ([{"id": "a", "backfillFrom": "soon"}], "stores[0] (a).backfillFrom: 'soon' is not a YYYY-MM-DD"),
        ([{"id": "a", "credentialsSecretName": "a secret"}], "stores[0] (a).credentialsSecretName"),
        ([{"id": "a", "secret": "x"}], "stores[0]: unknown key(s) secret; known: id, credentialsSecretName"),
    ],
)
def test_a_wrong_store_entry_stops_synth_naming_the_entry_and_its_field(stores, named):
    with pytest.raises(InvalidConfiguration, match=re.escape(named)) as refused:
        context_of({"stores": stores})
    assert "\n" not in str(refused.value)


def test_the_global_secret_is_refused_beside_stores_as_two_stores_never_share_credentials():
    with pytest.raises(InvalidConfiguration, match="context credentialsSecretName: .* name each store's secret"):
        context_of({"credentialsSecretName": "merchant/bwp-api", "stores": [{"id": "a"}, {"id": "b"}]})


def test_more_stores_than_lambdas_environment_can_hold_stop_synth_saying_how_many():
    from bwp_lake.infra.workflow import lambda_environment

    def environment_of(count: int) -> dict[str, str]:
        config = context_of({"stores": [{"id": f"store-{n}"} for n in range(count)]})
        # as at synth: each created secret's ARN is a token
        tokens = {store.id: f"${{Token[TOKEN.{n}]}}" for n, store in enumerate(config.stores)}
        return lambda_environment(config, "a-bucket", tokens, "a-table")

    # given a handful of stores, then the environment is written
    assert "store-4" in environment_of(5)["BWP_STORES"]
    # given forty, then synth stops, naming the count and Lambda's limit
    with pytest.raises(InvalidConfiguration, match=r"context stores: 40 stores make .* over Lambda's 4,096"):
        environment_of(40)

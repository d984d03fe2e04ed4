"""cdk.json context: defaults, documentation, and refusal of wrong values before anything deploys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bwp_lake.infra.config import DEFAULTS, InvalidConfiguration, LakeConfig

REPO = Path(__file__).resolve().parents[2]


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

    assert context_of({"maxBackfillWindows": MAX_BACKFILL_WINDOWS}).max_backfill_windows == MAX_BACKFILL_WINDOWS
    with pytest.raises(InvalidConfiguration, match="maxBackfillWindows"):
        context_of({"maxBackfillWindows": MAX_BACKFILL_WINDOWS + 1})
    assert "backfillFrom" not in schedule_input(context_of({}))
    healing = schedule_input(context_of({"backfillFrom": "2024-03-01", "maxBackfillWindows": 12}))
    assert (healing["backfillFrom"], healing["maxBackfillWindows"]) == ("2024-03-01", 12)
    request = parse_request(healing)
    assert (str(request.backfill_from), request.max_backfill_windows) == ("2024-03-01", 12)


def test_an_unconfigured_stack_gives_the_functions_their_own_defaults():
    from bwp.lake.settings import Settings

    # given no context at all, when the stack writes the functions' settings
    resources = {"lake_bucket": "a-bucket", "state_table": "a-table", "credentials_secret_id": "a-secret"}
    written = context_of({}).function_settings(**resources)
    # then they are the settings a function takes when nothing is set
    assert written == Settings.of(**resources)

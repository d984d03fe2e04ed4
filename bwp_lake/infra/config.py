"""The stack's configuration: ``cdk.json`` context keys, their defaults, validated once at synth.

A wrong value stops synth with a message naming the key, instead of deploying a stack whose
first scheduled run fails at 04:00.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bwp.lake.contract import API_CONCURRENT_TASKS, MAX_BACKFILL_WINDOWS, MAX_RANGE_DAYS
from bwp.lake.schemas import REPORT_TYPES
from bwp.lake.settings import Settings

from bwp_lake.infra.outputs import DEFAULT_STACK_NAME

# Context keys that set one of the functions' settings -> that setting (a field of Settings and of
# LakeConfig alike): its default is the functions' own.
FUNCTION_SETTINGS: dict[str, str] = {
    "apiBaseUrl": "api_base_url",
    "apiVersion": "api_version",
    "downloadHostAllowlist": "download_host_allowlist",
    "projectionStartDate": "projection_start_date",
}

# context key -> default. cdk.json carries the same values, so that every key can be edited in
# place there; a test holds it to these.
DEFAULTS: dict[str, Any] = {
    "stackName": DEFAULT_STACK_NAME,
    "reportTypes": list(REPORT_TYPES),
    "scheduleExpression": "cron(0 4 * * ? *)",
    "lookbackDays": 3,
    "maxConcurrency": 5,
    **{key: Settings.default_of(field) for key, field in FUNCTION_SETTINGS.items()},
    "credentialsSecretName": "",
    "alarmEmail": "",
    "databaseName": "bwp_report_lake",
    "athenaScanLimitGb": 10,
    "lambdaAssetDir": "build/lambda",
    "backfillFrom": "",
    "maxBackfillWindows": 30,
}


class InvalidConfiguration(ValueError):
    """A cdk.json context value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class LakeConfig:
    stack_name: str
    report_types: tuple[str, ...]
    schedule_expression: str
    lookback_days: int
    max_concurrency: int
    api_base_url: str
    api_version: str
    credentials_secret_name: str
    alarm_email: str
    download_host_allowlist: tuple[str, ...]
    projection_start_date: str
    database_name: str
    athena_scan_limit_gb: int
    lambda_asset_dir: str
    backfill_from: str
    max_backfill_windows: int

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> LakeConfig:
        """``get`` is ``node.try_get_context``: None for a key that is not set."""

        def value(key: str) -> Any:
            found = get(key)
            return DEFAULTS[key] if found is None else found

        return cls(
            stack_name=_text(value, "stackName", r"[A-Za-z][A-Za-z0-9-]{0,127}"),
            report_types=_report_types(value("reportTypes")),
            schedule_expression=_text(value, "scheduleExpression", r"(cron|rate)\(.+\)"),
            lookback_days=_integer(value, "lookbackDays", 1, MAX_RANGE_DAYS),
            max_concurrency=_integer(value, "maxConcurrency", 1, API_CONCURRENT_TASKS),
            api_base_url=_text(value, "apiBaseUrl", r"https://[^\s/]+(/\S*)?"),
            api_version=_text(value, "apiVersion", r"\d{4}-\d{2}-\d{2}"),
            credentials_secret_name=_text(value, "credentialsSecretName", r"([A-Za-z0-9/_+=.@-]{1,512})?"),
            alarm_email=_text(value, "alarmEmail", r"([^@\s]+@[^@\s]+\.[^@\s]+)?"),
            download_host_allowlist=_hosts(value("downloadHostAllowlist")),
            projection_start_date=_day(value, "projectionStartDate"),
            database_name=_text(value, "databaseName", r"[a-z0-9_]{1,255}"),
            athena_scan_limit_gb=_integer(value, "athenaScanLimitGb", 1, None),
            lambda_asset_dir=_text(value, "lambdaAssetDir", r".+"),
            backfill_from=_backfill_from(value),
            max_backfill_windows=_integer(value, "maxBackfillWindows", 0, MAX_BACKFILL_WINDOWS),
        )

    def function_settings(self, *, lake_bucket: str, state_table: str, credentials_secret_id: str) -> Settings:
        """The functions' settings in this stack: the configured ones and the stack's resources."""
        return Settings.of(
            **{field: getattr(self, field) for field in FUNCTION_SETTINGS.values()},
            lake_bucket=lake_bucket,
            state_table=state_table,
            credentials_secret_id=credentials_secret_id,
        )


def _text(value: Callable[[str], Any], key: str, pattern: str) -> str:
    found = value(key)
    if not isinstance(found, str) or not re.fullmatch(pattern, found):
        raise InvalidConfiguration(f"context {key}: {found!r} does not match {pattern}")
    return found


def _integer(value: Callable[[str], Any], key: str, low: int, high: int | None) -> int:
    found = value(key)
    if isinstance(found, bool) or not isinstance(found, int) or found < low or (high is not None and found > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidConfiguration(f"context {key}: {found!r} must be an integer {bounds}")
    return found


def _day(value: Callable[[str], Any], key: str) -> str:
    found = value(key)
    try:
        date.fromisoformat(found)
    except (TypeError, ValueError):
        raise InvalidConfiguration(f"context {key}: {found!r} is not a YYYY-MM-DD date") from None
    return found


def _backfill_from(value: Callable[[str], Any]) -> str:
    """Empty (no self-healing), or a day no earlier than the tables' first."""
    if value("backfillFrom") == "":
        return ""
    found = _day(value, "backfillFrom")
    if found < value("projectionStartDate"):
        raise InvalidConfiguration(
            f"context backfillFrom: {found} is before projectionStartDate ({value('projectionStartDate')})"
        )
    return found


def _report_types(found: Any) -> tuple[str, ...]:
    if not isinstance(found, list) or not found:
        raise InvalidConfiguration(f"context reportTypes: {found!r} must be a non-empty list")
    unknown = [name for name in found if name not in REPORT_TYPES]
    if unknown:
        raise InvalidConfiguration(f"context reportTypes: unknown {unknown}; known: {', '.join(REPORT_TYPES)}")
    return tuple(dict.fromkeys(found))


def _hosts(found: Any) -> tuple[str, ...]:
    if not isinstance(found, list) or not found or not all(isinstance(host, str) and host for host in found):
        raise InvalidConfiguration(f"context downloadHostAllowlist: {found!r} must be a non-empty list of hosts")
    return tuple(found)

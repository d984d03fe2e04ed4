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
from bwp.lake.stores import DEFAULT_STORE_ID, STORE_ID_RULE, StoreConfig, is_store_id

from bwp_lake.infra.outputs import DEFAULT_STACK_NAME

# Context keys that set one of the functions' settings -> that setting (a field of Settings and of
# LakeConfig alike): its default is the functions' own.
FUNCTION_SETTINGS: dict[str, str] = {
    "apiBaseUrl": "api_base_url",
    "apiVersion": "api_version",
    "downloadHostAllowlist": "download_host_allowlist",
    "projectionStartDate": "projection_start_date",
    "snapshotRetentionDays": "snapshot_retention_days",
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
    # Each store: {"id", "credentialsSecretName"?, "reportTypes"?, "backfillFrom"?}; none: one
    # store, DEFAULT_STORE_ID, with the settings above.
    "stores": [],
}
# The keys of one entry of ``stores``, and the global key each one overrides.
STORE_KEYS = ("id", "credentialsSecretName", "reportTypes", "backfillFrom")
_SECRET_NAME = r"([A-Za-z0-9/_+=.@-]{1,512})?"


class InvalidConfiguration(ValueError):
    """A cdk.json context value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class StoreSettings:
    """One store the stack serves, its overrides resolved against the global settings."""

    id: str
    credentials_secret_name: str  # "": the stack creates the store's secret
    report_types: tuple[str, ...]
    backfill_from: str  # "": no self-healing

    def function_config(self, secret_id: str) -> StoreConfig:
        """The store as the functions know it (``BWP_STORES``), its secret known by ``secret_id``."""
        return StoreConfig(id=self.id, secret_id=secret_id, report_types=self.report_types)


@dataclass(frozen=True)
class LakeConfig:
    stack_name: str
    report_types: tuple[str, ...]
    schedule_expression: str
    lookback_days: int
    max_concurrency: int
    api_base_url: str
    api_version: str
    alarm_email: str
    download_host_allowlist: tuple[str, ...]
    projection_start_date: str
    snapshot_retention_days: int
    database_name: str
    athena_scan_limit_gb: int
    lambda_asset_dir: str
    backfill_from: str
    max_backfill_windows: int
    stores: tuple[StoreSettings, ...]

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
            alarm_email=_text(value, "alarmEmail", r"([^@\s]+@[^@\s]+\.[^@\s]+)?"),
            download_host_allowlist=_hosts(value("downloadHostAllowlist")),
            projection_start_date=_day(value, "projectionStartDate"),
            snapshot_retention_days=_integer(value, "snapshotRetentionDays", 1, 3650),
            database_name=_text(value, "databaseName", r"[a-z0-9_]{1,255}"),
            athena_scan_limit_gb=_integer(value, "athenaScanLimitGb", 1, None),
            lambda_asset_dir=_text(value, "lambdaAssetDir", r".+"),
            backfill_from=_backfill_from(value),
            max_backfill_windows=_integer(value, "maxBackfillWindows", 0, MAX_BACKFILL_WINDOWS),
            stores=_stores(value),
        )

    def function_settings(self, *, lake_bucket: str, state_table: str, secret_ids: dict[str, str]) -> Settings:
        """The functions' settings in this stack: the configured ones and the stack's resources,
        each store's secret known by its entry in ``secret_ids`` (store id -> name or ARN)."""
        return Settings.of(
            **{field: getattr(self, field) for field in FUNCTION_SETTINGS.values()},
            lake_bucket=lake_bucket,
            state_table=state_table,
            catalog_database=self.database_name,
            stores=[store.function_config(secret_ids[store.id]) for store in self.stores],
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


def _backfill_from(value: Callable[[str], Any], key: str = "backfillFrom") -> str:
    """Empty (no self-healing), or a day no earlier than the tables' first."""
    if value(key) == "":
        return ""
    found = _day(value, key)
    if found < value("projectionStartDate"):
        raise InvalidConfiguration(
            f"context {key}: {found} is before projectionStartDate ({value('projectionStartDate')})"
        )
    return found


def _report_types(found: Any, key: str = "reportTypes") -> tuple[str, ...]:
    if not isinstance(found, list) or not found:
        raise InvalidConfiguration(f"context {key}: {found!r} must be a non-empty list")
    unknown = [name for name in found if name not in REPORT_TYPES]
    if unknown:
        raise InvalidConfiguration(f"context {key}: unknown {unknown}; known: {', '.join(REPORT_TYPES)}")
    return tuple(dict.fromkeys(found))


def _stores(value: Callable[[str], Any]) -> tuple[StoreSettings, ...]:
    """The configured stores; none: the one store DEFAULT_STORE_ID, whose secret is
    credentialsSecretName's (created by the stack when that is empty)."""
    global_secret = _text(value, "credentialsSecretName", _SECRET_NAME)
    entries = value("stores")
    if not isinstance(entries, list):
        raise InvalidConfiguration(f"context stores: {entries!r} must be a list of stores")
    if not entries:
        entries = [{"id": DEFAULT_STORE_ID, "credentialsSecretName": global_secret}]
    elif global_secret:
        # Two stores can never share credentials: which store the global secret is for must be said.
        raise InvalidConfiguration(
            "context credentialsSecretName: serves the one store of a deployment without stores; "
            "with stores, name each store's secret in its entry"
        )
    stores = tuple(_store(value, f"stores[{index}]", entry) for index, entry in enumerate(entries))
    ids = [store.id for store in stores]
    if repeated := sorted({store_id for store_id in ids if ids.count(store_id) > 1}):
        raise InvalidConfiguration(f"context stores: each store id must be unique; repeated: {', '.join(repeated)}")
    return stores


def _store(value: Callable[[str], Any], where: str, entry: Any) -> StoreSettings:
    """One entry of ``stores``: its reportTypes and backfillFrom default to the global ones."""
    if not isinstance(entry, dict):
        raise InvalidConfiguration(f"context {where}: {entry!r} must be an object with an id")
    if unknown := sorted(set(entry) - set(STORE_KEYS)):
        raise InvalidConfiguration(
            f"context {where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(STORE_KEYS)}"
        )
    store_id = entry.get("id")
    if not is_store_id(store_id):
        raise InvalidConfiguration(f"context {where}.id: {store_id!r} must be {STORE_ID_RULE}")
    prefix = f"{where} ({store_id})."

    def overridden(key: str) -> Any:
        """A key of the entry (``<where> (<id>).<key>``, as errors name it), or the global setting."""
        name = key.removeprefix(prefix)
        return entry[name] if key.startswith(prefix) and name in entry else value(name)

    return StoreSettings(
        id=store_id,
        credentials_secret_name=_text(overridden, f"{prefix}credentialsSecretName", _SECRET_NAME)
        if "credentialsSecretName" in entry
        else "",
        report_types=_report_types(overridden(f"{prefix}reportTypes"), f"{prefix}reportTypes"),
        backfill_from=_backfill_from(overridden, f"{prefix}backfillFrom"),
    )


def _hosts(found: Any) -> tuple[str, ...]:
    if not isinstance(found, list) or not found or not all(isinstance(host, str) and host for host in found):
        raise InvalidConfiguration(f"context downloadHostAllowlist: {found!r} must be a non-empty list of hosts")
    return tuple(found)

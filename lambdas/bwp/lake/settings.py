"""The functions' settings: one typed model, validated once at cold start.

Each setting's name, environment variable (its alias), type and default are written here and
nowhere else: the functions read them (``from_env``), and the stack and the local engine write
the functions' environment from them (``function_environment``); the stack's configuration takes
its defaults for the settings it shares from here too (``bwp_lake.infra.config``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator
from pydantic_core import to_jsonable_python

from bwp.errors import InvalidSettings, StoreNotConfigured
from bwp.lake.contract import API_CONCURRENT_TASKS, NAMESPACE, SERVICE
from bwp.lake.stores import StoreConfig


class Settings(BaseModel):
    # Built by field name where an engine writes the environment, by alias where a function reads it.
    model_config = ConfigDict(frozen=True, validate_by_name=True)

    # Written as a person writes it (cdk.json shows this default); validated into a URL all the same.
    api_base_url: HttpUrl = Field("https://api.buywithprime.amazon.com", alias="BWP_API_URL", validate_default=True)
    api_version: str = Field("2024-11-01", alias="BWP_API_VERSION", pattern=r"^\d{4}-\d{2}-\d{2}$")
    # The stores served, each with its credentials secret: the functions read no other secret.
    stores: tuple[StoreConfig, ...] = Field(alias="BWP_STORES", min_length=1)
    lake_bucket: str = Field(alias="LAKE_BUCKET", min_length=3)
    state_table: str = Field(alias="STATE_TABLE", min_length=3)
    # Tasks in progress count against the API's limit per target id, whoever started them.
    task_slots: int = Field(API_CONCURRENT_TASKS, alias="TASK_SLOTS", ge=1, le=API_CONCURRENT_TASKS)
    download_host_allowlist: tuple[str, ...] = Field(
        ("*.amazonaws.com", "*.buywithprime.amazon.com"), alias="DOWNLOAD_HOST_ALLOWLIST"
    )
    # Links are https; the local twin serves its reports over http on loopback, and says so here.
    download_plain_http_on_loopback: bool = Field(False, alias="DOWNLOAD_PLAIN_HTTP_ON_LOOPBACK")
    connect_timeout_seconds: float = Field(5.0, alias="HTTP_CONNECT_TIMEOUT_SECONDS", gt=0)
    read_timeout_seconds: float = Field(30.0, alias="HTTP_READ_TIMEOUT_SECONDS", gt=0)
    # The first day the lake's tables project: a day before it would land where no query sees it.
    projection_start_date: date = Field(date(2024, 1, 1), alias="PROJECTION_START_DATE")
    # The curated Iceberg tables' catalog: the Glue database (the stack's), or locally the
    # namespace of a SQLite catalog at local_catalog_path, a file of the twin's (never set in AWS).
    catalog_database: str = Field("bwp_report_lake", alias="CATALOG_DATABASE", pattern=r"^[a-z0-9_]{1,255}$")
    local_catalog_path: Path | None = Field(None, alias="LOCAL_CATALOG_PATH")
    # How long a curated table keeps a snapshot (time travel reaches that far back; a restated or
    # deleted day's old rows leave the bucket when the last snapshot holding them expires).
    snapshot_retention_days: int = Field(30, alias="SNAPSHOT_RETENTION_DAYS", ge=1, le=3650)

    @field_validator("stores", mode="before")
    @classmethod
    def _stores_from_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("must be a JSON array of stores ({id, secretId[, reportTypes]})") from None
        return value

    @field_validator("stores")
    @classmethod
    def _one_entry_per_store(cls, value: tuple[StoreConfig, ...]) -> tuple[StoreConfig, ...]:
        ids = [store.id for store in value]
        if repeated := sorted({store_id for store_id in ids if ids.count(store_id) > 1}):
            raise ValueError(f"each store is configured once; repeated: {', '.join(repeated)}")
        return value

    def store(self, store_id: str) -> StoreConfig:
        """A configured store, by id."""
        for store in self.stores:
            if store.id == store_id:
                return store
        raise StoreNotConfigured(f"store {store_id!r} is not configured; configured: {', '.join(self.store_ids)}")

    @property
    def store_ids(self) -> list[str]:
        return [store.id for store in self.stores]

    @field_validator("download_host_allowlist", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(host.strip().lower() for host in value.split(",") if host.strip())
        return value

    @property
    def token_url(self) -> str:
        return f"{str(self.api_base_url).rstrip('/')}/token"

    @property
    def graphql_url(self) -> str:
        return f"{str(self.api_base_url).rstrip('/')}/graphql"

    @property
    def snapshot_retention(self) -> timedelta:
        return timedelta(days=self.snapshot_retention_days)

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds for ``requests``."""
        return (self.connect_timeout_seconds, self.read_timeout_seconds)

    @classmethod
    def default_of(cls, field: str) -> Any:
        """A setting's default as JSON writes it (a list for a tuple, an ISO day for a date)."""
        return to_jsonable_python(cls.model_fields[field].default)

    def to_env(self) -> dict[str, str]:
        """Every setting under its alias, written so that ``from_env`` reads back these settings
        (an unset optional one is left out)."""
        values = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {alias: _env_value(value) for alias, value in values.items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = {field.alias or name for name, field in cls.model_fields.items()}
        return cls._validated({name: env[name] for name in names if name in env})

    @classmethod
    def of(cls, **values: Any) -> Settings:
        """Settings by field name, as an engine writes them, refused as a function would refuse them."""
        return cls._validated(values)

    @classmethod
    def _validated(cls, values: Mapping[str, Any]) -> Settings:
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
            raise InvalidSettings(f"invalid Lambda environment: {problems}") from None


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        # A list of plain values is written as the comma-separated list a person writes; a list of
        # objects (the stores) as JSON.
        return json.dumps(value, separators=(",", ":")) if any(isinstance(v, dict) for v in value) else ",".join(value)
    return str(value)


def function_environment(settings: Settings) -> dict[str, str]:
    """Every function's environment, in the stack as in the local engine: its settings, and the
    service and metric namespace Powertools reads."""
    return {**settings.to_env(), "POWERTOOLS_SERVICE_NAME": SERVICE, "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE}

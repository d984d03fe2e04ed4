"""Settings from environment variables: one typed model, validated once at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator

from bwp.errors import InvalidSettings
from bwp.lake.contract import API_CONCURRENT_TASKS


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    api_base_url: HttpUrl = Field(HttpUrl("https://api.buywithprime.amazon.com"), alias="BWP_API_URL")
    api_version: str = Field("2024-11-01", alias="BWP_API_VERSION", pattern=r"^\d{4}-\d{2}-\d{2}$")
    credentials_secret_id: str = Field(alias="BWP_CREDENTIALS_SECRET", min_length=1)
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
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds for ``requests``."""
        return (self.connect_timeout_seconds, self.read_timeout_seconds)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = {field.alias for field in cls.model_fields.values()}
        try:
            return cls.model_validate({name: env[name] for name in names if name in env})
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
            raise InvalidSettings(f"invalid Lambda environment: {problems}") from None

"""The stores a deployment serves: each a Buy with Prime store with its own credentials.

A store's id is short and safe in an S3 key, a Glue partition value, a metric dimension and an
execution name; it is what the lake's keys and rows carry (``bwp.lake.partition``). A deployment
that names no stores serves one, ``default``, whose secret is the stack's credentials secret.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bwp.lake.schemas import REPORT_TYPES

DEFAULT_STORE_ID = "default"
STORE_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
STORE_ID_RULE = "1-32 lowercase letters, digits and dashes, starting and ending with a letter or digit"
_STORE_ID = re.compile(STORE_ID_PATTERN)


def is_store_id(value: object) -> bool:
    return isinstance(value, str) and _STORE_ID.match(value) is not None


class StoreConfig(BaseModel):
    """One store as the functions know it: its id, where its credentials are, its report types."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    id: str = Field(pattern=STORE_ID_PATTERN)
    # The Secrets Manager secret (name or ARN) holding clientId, clientSecret and targetId.
    secret_id: str = Field(alias="secretId", min_length=1)
    # The report types ingested for this store; None: every report type of the registry.
    report_types: tuple[str, ...] | None = Field(None, alias="reportTypes", min_length=1)

    @field_validator("report_types")
    @classmethod
    def _known_report_types(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            unknown = [name for name in value if name not in REPORT_TYPES]
            if unknown:
                raise ValueError(f"unknown report type(s) {', '.join(unknown)}; known: {', '.join(REPORT_TYPES)}")
            value = tuple(dict.fromkeys(value))
        return value

    @property
    def ingested_report_types(self) -> tuple[str, ...]:
        return self.report_types or tuple(REPORT_TYPES)

"""API credentials from Secrets Manager, cached in memory and never logged."""

from __future__ import annotations

import json
import threading

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bwp.aws import transient_aws_errors
from bwp.errors import CredentialsMisconfigured
from bwp.redaction import register_secret


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    client_id: str = Field(alias="clientId", min_length=1)
    client_secret: SecretStr = Field(alias="clientSecret", min_length=1)
    target_id: str = Field(alias="targetId", min_length=1)


class SecretsManagerCredentials:
    """Reads the JSON secret once per process; ``refresh()`` forces a new read (rotation)."""

    def __init__(self, secrets_client, secret_id: str) -> None:
        self._client = secrets_client
        self._secret_id = secret_id
        self._cached: Credentials | None = None
        self._lock = threading.Lock()

    def get(self) -> Credentials:
        with self._lock:
            if self._cached is None:
                self._cached = self._read()
            return self._cached

    def refresh(self) -> None:
        with self._lock:
            self._cached = None

    def _read(self) -> Credentials:
        with transient_aws_errors(f"reading secret {self._secret_id}"):
            secret = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
        try:
            credentials = Credentials.model_validate(json.loads(secret))
        except (json.JSONDecodeError, ValidationError) as error:
            # Only field names are reported: the secret's values must never reach a log line.
            fields = "clientId, clientSecret, targetId"
            problem = "is not JSON" if isinstance(error, json.JSONDecodeError) else "lacks a field"
            raise CredentialsMisconfigured(
                f"secret {self._secret_id} {problem}; it must be a JSON object with {fields}"
            ) from None
        # Known to the redactor before any request can carry it, so no echo of it leaves the process.
        register_secret(credentials.client_secret.get_secret_value(), lasting=True)
        return credentials

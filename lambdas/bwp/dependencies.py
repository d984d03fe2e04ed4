"""Process-wide clients, created on first use and reused by warm invocations.

Handlers ask for what they need here, so the logic in the rest of the package can take its
clients as plain arguments and be tested without Lambda.
"""

from __future__ import annotations

from functools import cache, lru_cache

import boto3
import requests
from botocore.config import Config

from bwp.client import BwpClient
from bwp.clock import Clock, utc_now
from bwp.credentials import SecretsManagerCredentials
from bwp.lake.settings import Settings

_AWS_CONFIG = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 5, "mode": "standard"})


def clock() -> Clock:
    """The time the steps read: the wall clock here; the local engine hands them the API's."""
    return utc_now


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def http_session() -> requests.Session:
    return requests.Session()


@lru_cache(maxsize=1)
def s3_client():
    return boto3.client("s3", config=_AWS_CONFIG)


@lru_cache(maxsize=1)
def state_table():
    """The DynamoDB table of the task ledger and the task slots (bwp.coordination)."""
    return boto3.resource("dynamodb", config=_AWS_CONFIG).Table(settings().state_table)


@lru_cache(maxsize=1)
def secrets_client():
    return boto3.client("secretsmanager", config=_AWS_CONFIG)


@cache
def api_client(store_id: str) -> BwpClient:
    """A store's API client: its own credentials and token, the process's HTTP session.
    KeyError for a store that is not configured."""
    config = settings()
    credentials = SecretsManagerCredentials(secrets_client(), config.store(store_id).secret_id)
    return BwpClient(
        session=http_session(),
        token_url=config.token_url,
        graphql_url=config.graphql_url,
        api_version=config.api_version,
        credentials=credentials,
        timeout=config.timeout,
    )


@lru_cache(maxsize=1)
def lake_catalog():
    """The curated Iceberg tables' catalog: Glue, or the twin's SQLite file when the settings name one."""
    # pyiceberg is in the committer's bundle alone: imported only when asked for.
    from bwp.iceberg.catalog import glue_catalog, sql_catalog

    config = settings()
    if config.local_catalog_path is not None:
        return sql_catalog(
            config.local_catalog_path, s3_client(), namespace=config.catalog_database, bucket=config.lake_bucket
        )
    glue = boto3.client("glue", config=_AWS_CONFIG)
    return glue_catalog(glue, s3_client(), database=config.catalog_database, bucket=config.lake_bucket)


def reset() -> None:
    """Forget every client and setting: the next invocation is a cold start."""
    for cached in (settings, http_session, s3_client, state_table, secrets_client, api_client, lake_catalog):
        cached.cache_clear()

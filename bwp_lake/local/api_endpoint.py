"""The API the local twin's functions call, and the stores it serves there: what a run needs to
know before moto is imported (``local-run`` checks its input against these stores first)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bwp.lake.stores import DEFAULT_STORE_ID, StoreConfig


@dataclass(frozen=True)
class StoreCredentials:
    """One store the twin serves: its id in the lake, and what its secret holds."""

    store: str
    client_id: str
    client_secret: str
    target_id: str
    report_types: tuple[str, ...] | None = None  # None: every report type

    @property
    def secret_id(self) -> str:
        return f"bwp-report-lake/{self.store}/api-credentials"

    @property
    def secret_string(self) -> str:
        return json.dumps({"clientId": self.client_id, "clientSecret": self.client_secret, "targetId": self.target_id})

    @property
    def config(self) -> StoreConfig:
        """The store as the functions' settings name it."""
        return StoreConfig(id=self.store, secretId=self.secret_id, reportTypes=self.report_types)


def stores_serving(merchants: Sequence[Mapping[str, str]]) -> tuple[StoreCredentials, ...]:
    """Each merchant of an API (its credentials as a secret holds them) as a store: one merchant
    is the store ``default``, as a deployment that names no stores has; several are stores named
    for their target ids."""
    if len(merchants) == 1:
        (merchant,) = merchants
        return (
            StoreCredentials(DEFAULT_STORE_ID, merchant["clientId"], merchant["clientSecret"], merchant["targetId"]),
        )
    return tuple(
        StoreCredentials(merchant["targetId"], merchant["clientId"], merchant["clientSecret"], merchant["targetId"])
        for merchant in merchants
    )


@dataclass(frozen=True)
class ApiEndpoint:
    """The API the twin's functions call, and the stores it serves there."""

    base_url: str
    stores: tuple[StoreCredentials, ...]

    @classmethod
    def one_store(
        cls, base_url: str, client_id: str, client_secret: str, target_id: str, store: str = DEFAULT_STORE_ID
    ) -> ApiEndpoint:
        return cls(base_url, (StoreCredentials(store, client_id, client_secret, target_id),))

    @classmethod
    def serving(cls, base_url: str, merchants: Sequence[Mapping[str, str]]) -> ApiEndpoint:
        """Every merchant the API at ``base_url`` serves, each a store (see ``stores_serving``)."""
        return cls(base_url, stores_serving(merchants))

    @property
    def store_ids(self) -> list[str]:
        return [store.store for store in self.stores]

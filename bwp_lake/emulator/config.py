"""How an emulator is set up: data volume, generation speed, where it listens, the merchants it serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_PORT = 8450
MAX_ROWS_PER_DAY = 100_000_000
MAX_STORES = 100
DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TARGET_ID = "local-client", "local-secret", "local-target"


@dataclass(frozen=True)
class Merchant:
    """One Buy with Prime store: its API credentials, its target id and the seed of its data."""

    target_id: str
    client_id: str
    client_secret: str
    seed: int

    @property
    def credentials(self) -> dict[str, str]:
        """As the product's secret holds them."""
        return {"clientId": self.client_id, "clientSecret": self.client_secret, "targetId": self.target_id}


def derived_merchants(count: int, seed: int) -> tuple[Merchant, ...]:
    """``count`` stores: store-k has target id ``store-k``, client ``store-k-client``, secret
    ``store-k-secret`` and the data of seed ``seed + k - 1`` (store-1's data is the single merchant's)."""
    if not 1 <= count <= MAX_STORES:
        raise ValueError(f"the number of stores must be between 1 and {MAX_STORES}, got {count}")
    return tuple(
        Merchant(f"store-{k}", f"store-{k}-client", f"store-{k}-secret", seed + k - 1) for k in range(1, count + 1)
    )


@dataclass(frozen=True)
class EmulatorConfig:
    seed: int = 7  # the data: same seed, same reports (the single merchant's; also the faults' RNGs)
    rows_per_day: int = 2000  # CSV rows per report type and UTC day
    generation_seconds: float = 30.0  # time to generate one day of 2,000 rows (see README)
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    # the single merchant served when ``merchants`` is not given
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    target_id: str = DEFAULT_TARGET_ID
    start_time: datetime | None = None  # the clock's first reading; default: real UTC now
    log_requests: bool = False  # one log line per request (the CLI turns it on)
    # the stores served, each with its own credentials, data and task limit; default: the one above
    merchants: tuple[Merchant, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.rows_per_day <= MAX_ROWS_PER_DAY:
            raise ValueError(f"rows_per_day must be between 0 and {MAX_ROWS_PER_DAY:,}, got {self.rows_per_day}")
        if self.generation_seconds < 0:
            raise ValueError(f"generation_seconds must be >= 0, got {self.generation_seconds}")
        if not 0 <= self.port <= 65_535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
        single = (self.client_id, self.client_secret, self.target_id)
        if not self.merchants:
            object.__setattr__(self, "merchants", (Merchant(self.target_id, *single[:2], self.seed),))
        elif single != (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TARGET_ID):
            raise ValueError("give either merchants or client_id/client_secret/target_id, not both")
        object.__setattr__(self, "merchants", tuple(self.merchants))
        _check_merchants(self.merchants)


def _check_merchants(merchants: tuple[Merchant, ...]) -> None:
    for merchant in merchants:
        if not (merchant.target_id and merchant.client_id and merchant.client_secret):
            shown = merchant.target_id or "(no target id)"
            raise ValueError(f"merchant {shown}: its target id, client id and client secret must not be empty")
    for name in ("target_id", "client_id"):
        values = [getattr(merchant, name) for merchant in merchants]
        if duplicates := sorted({value for value in values if values.count(value) > 1}):
            raise ValueError(f"each merchant needs its own {name.replace('_', ' ')}; shared: {', '.join(duplicates)}")

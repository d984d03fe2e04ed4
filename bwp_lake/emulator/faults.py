"""Fault switches: what tests and users turn on to see the pipeline cope with a bad day.

Each probabilistic switch draws from its own RNG, seeded from the emulator's seed and reseeded
whenever the switch is set, so "set throttle_rate=0.5, then make ten calls" answers the same way
on every run (for calls made one at a time).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bwp_lake.emulator.reports import BAD_RECORDS, HEADER_DRIFTS

TOKEN_LIFETIME_SECONDS = 900
ALWAYS = "always"


@dataclass(frozen=True)
class Faults:
    throttle_rate: float = 0.0  # GraphQL calls answered with ThrottlingException
    internal_error_rate: float = 0.0  # GraphQL calls answered with InternalServerException
    http_500_rate: float = 0.0  # /token and /graphql calls answered HTTP 500, body not JSON
    latency_ms: float = 0.0  # added to every API and download request
    fail_reports: float | str = 0.0  # new tasks that end FAILED: a fraction, or "always"
    drop_download_after_bytes: int | None = None  # cut a task's first full download after N bytes
    gzip_downloads: bool = False  # new tasks' reports are served gzip-compressed
    header_drift: str | None = None  # new tasks' reports: "rename" the last column or "add" one
    empty_reports: bool = False  # new tasks' reports are a zero-byte body: not even a header line
    bad_last_record: str | None = None  # new tasks' reports end with "invalid_utf8" or a "long_line"
    token_expiry_seconds: int = TOKEN_LIFETIME_SECONDS  # lifetime of tokens issued from now on


FAULT_NAMES = tuple(field.name for field in fields(Faults))
_RATES = ("throttle_rate", "internal_error_rate", "http_500_rate")


def _number(name: str, value: Any, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be between {low} and {high if high is not None else 'any'}, got {value!r}")
    return value


def validated(name: str, value: Any) -> Any:
    """The switch's value as stored; ValueError names what is wrong."""
    if name not in FAULT_NAMES:
        raise ValueError(f"unknown fault switch {name!r}; known: {', '.join(FAULT_NAMES)}")
    if name in _RATES:
        return float(_number(name, value, 0.0, 1.0))
    if name == "latency_ms":
        return float(_number(name, value, 0.0, 60_000.0))
    if name == "fail_reports":
        return ALWAYS if value == ALWAYS else float(_number(name, value, 0.0, 1.0))
    if name == "drop_download_after_bytes":
        return None if value is None else int(_number(name, value, 0, None))
    if name in ("gzip_downloads", "empty_reports"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if name == "header_drift":
        if value is not None and value not in HEADER_DRIFTS:
            raise ValueError(f"header_drift must be null, {' or '.join(map(repr, HEADER_DRIFTS))}, got {value!r}")
        return value
    if name == "bad_last_record":
        if value is not None and value not in BAD_RECORDS:
            raise ValueError(f"bad_last_record must be null, {' or '.join(map(repr, BAD_RECORDS))}, got {value!r}")
        return value
    return int(_number(name, value, 1, 7 * 86_400))  # token_expiry_seconds


class FaultSwitches:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._faults = Faults()
        self._rngs: dict[str, random.Random] = {}
        self._reseed(FAULT_NAMES)

    @property
    def current(self) -> Faults:
        return self._faults

    def update(self, **changes: Any) -> Faults:
        """A partial update: every value is checked before any is applied."""
        clean = {name: validated(name, value) for name, value in changes.items()}
        with self._lock:
            self._faults = replace(self._faults, **clean)
            self._reseed(clean)
            return self._faults

    def reset(self) -> None:
        with self._lock:
            self._faults = Faults()
            self._reseed(FAULT_NAMES)

    def roll(self, name: str) -> bool:
        """Whether this call gets the fault ``name`` (a rate, or fail_reports)."""
        rate = getattr(self._faults, name)
        if rate == ALWAYS:
            return True
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rngs[name].random() < rate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self._faults)

    def _reseed(self, names: Any) -> None:
        for name in names:
            self._rngs[name] = random.Random(f"{self._seed}:fault:{name}")

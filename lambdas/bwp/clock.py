"""The time the steps read, and how the lake writes it down.

Every step takes a ``Clock``: in Lambda it is the wall clock (``dependencies.clock()``); on the
local twin it is the API's clock, which the engine moves through Wait states.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(instant: datetime) -> str:
    """``2024-08-25T06:00:00Z``: whole seconds, UTC, as the manifests and the ledger hold it."""
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_api_time(value: str | None) -> datetime | None:
    """An API timestamp (ISO-8601, ``Z`` or an offset; naive means UTC), or None if absent or
    not a timestamp: the API's times inform waits and manifests, they never fail a window."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def seconds_between(start: str | None, end: str | None) -> float | None:
    first, last = parse_api_time(start), parse_api_time(end)
    return round((last - first).total_seconds(), 3) if first and last else None

"""The emulator's clock: real time, plus however far tests and the local engine moved it.

It only ever moves forward, so concurrent callers that each "advance to" their own instant can
never undo one another.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def parse_instant(value: str) -> datetime:
    """An ISO-8601 instant with an explicit offset (``Z`` or ``+00:00``...), as aware UTC."""
    # RFC 3339 allows a lowercase z, which fromisoformat does not.
    instant = datetime.fromisoformat(value.strip().replace("z", "Z"))
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return instant.astimezone(UTC)


def iso_millis(instant: datetime) -> str:
    """``2024-07-21T22:24:33.436Z``: the form the API's timestamps take."""
    instant = instant.astimezone(UTC)
    return f"{instant:%Y-%m-%dT%H:%M:%S}.{instant.microsecond // 1000:03d}Z"


class Clock:
    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._started = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._started + self._offset)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward: advance_seconds must be >= 0")
        with self._lock:
            self._offset += seconds
        return self.now()

    def advance_to(self, instant: datetime) -> datetime:
        """Move forward to ``instant`` if it is later than now; never backwards."""
        with self._lock:
            ahead = (instant - self.now()).total_seconds()
            if ahead > 0:
                self._offset += ahead
        return self.now()

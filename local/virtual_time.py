"""Wait states and retry intervals on API time instead of wall time.

On the local twin the emulator's clock can be moved, so a five-minute Wait need not take five
minutes: the engine sleeps a moment, then moves the emulator's clock to where the wait would
end. Concurrent waits that started together end together (the clock only moves forward), so
parallel windows do not add their waits up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace
from unittest import mock

import requests
from bwp import dependencies
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

CONTROL_TIMEOUT = (2.0, 10.0)


class EmulatorClock:
    """The emulator's clock, through its control endpoint."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/_emulator/clock"
        self._session = session or requests.Session()

    def now(self) -> datetime:
        response = self._session.get(self._url, timeout=CONTROL_TIMEOUT)
        response.raise_for_status()
        return datetime.fromisoformat(response.json()["now"])

    def advance_to(self, instant: datetime) -> None:
        response = self._session.post(self._url, json={"advance_to": instant.isoformat()}, timeout=CONTROL_TIMEOUT)
        response.raise_for_status()


class VirtualTime:
    def __init__(self, clock: EmulatorClock, real_seconds_per_wait: float = 0.02) -> None:
        self.clock = clock
        self._real_seconds = real_seconds_per_wait

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        started = self.clock.now()
        time.sleep(min(seconds, self._real_seconds))
        self.clock.advance_to(started + timedelta(seconds=seconds))

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Route the engine's Wait states and Retry intervals through ``sleep``, and let the
        functions read the API's clock, as they would read the wall clock next to the real API."""

        def wait_interval(function: WaitFunction, env, wait_seconds: int) -> None:
            self.sleep(wait_seconds)

        with (
            mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
            mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=self.sleep)),
            mock.patch.object(dependencies, "clock", lambda: self.clock.now),
        ):
            yield

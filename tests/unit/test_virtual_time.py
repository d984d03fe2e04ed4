"""The local engine's discrete-event clock: sleepers wake in order, at their own API times."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from bwp_lake.emulator.clock import Clock
from bwp_lake.local.virtual_time import VirtualTime

T0 = datetime(2024, 8, 25, 6, 0, tzinfo=UTC)
# Real time runs on while the flows act: a wake-up may be this much past its instant.
SLACK = timedelta(seconds=2)


class Flows:
    """Flows of the engine, as threads that sleep on virtual time and say when they woke."""

    def __init__(self) -> None:
        self.clock = Clock(T0)
        self.time = VirtualTime(self.clock)
        self.woke: list[tuple[str, datetime]] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, name: str, *waits: float, work_seconds: float = 0.0) -> None:
        def run() -> None:
            for wait in waits:
                self.time.sleep(wait)
                with self._lock:
                    self.woke.append((name, self.clock.now()))
                time.sleep(work_seconds)  # a function running between two waits

        self.time.flow_launched()

        def counted() -> None:
            try:
                run()
            finally:
                self.time.flow_ended()

        thread = threading.Thread(target=counted, daemon=True)
        self._threads.append(thread)
        thread.start()

    def join(self) -> list[tuple[str, datetime]]:
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a sleeper never woke"
        return self.woke


def assert_woke_at(woke, expected):
    assert [name for name, _ in woke] == [name for name, _ in expected]
    for (name, at), (_, seconds) in zip(woke, expected, strict=True):
        due = T0 + timedelta(seconds=seconds)
        assert due <= at <= due + SLACK, f"{name} woke at {at}, due at {due}"


def test_a_short_and_a_long_wait_wake_in_order_each_at_its_own_time():
    # given two windows waiting together, one for 10 s and one for 300 s
    flows = Flows()
    flows.start("long", 300)
    flows.start("short", 10)
    # when both sleep on virtual time
    woke = flows.join()
    # then the short one wakes at +10 s, not when the long one does
    assert_woke_at(woke, [("short", 10), ("long", 300)])


def test_a_window_that_wakes_and_waits_again_is_not_overtaken_by_a_later_wake_up():
    # given one window polling every 10 s, with work between its polls, and one waiting 25 s
    flows = Flows()
    flows.start("polling", 10, 10, 10, work_seconds=0.05)
    flows.start("waiting", 25)
    # when they run
    woke = flows.join()
    # then the clock stops at each of the poller's wake-ups before it reaches 25 s
    assert_woke_at(woke, [("polling", 10), ("polling", 20), ("waiting", 25), ("polling", 30)])


def test_the_clock_holds_still_while_a_flow_is_active():
    # given a flow busy for a moment (a function running) and another waiting 60 s
    flows = Flows()
    busy_until: list[datetime] = []
    flows.time.flow_launched()
    flows.start("waiting", 60)
    time.sleep(0.2)
    busy_until.append(flows.clock.now())
    flows.time.flow_ended()
    # when the busy flow ends
    woke = flows.join()
    # then the clock had not moved while it was busy; the waiter woke at its time after it
    assert busy_until[0] < T0 + SLACK
    assert_woke_at(woke, [("waiting", 60)])

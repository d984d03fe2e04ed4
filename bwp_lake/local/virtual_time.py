"""Wait states and retry intervals on API time instead of wall time: a discrete-event clock.

On the local twin the emulator's clock can be moved, so a five-minute Wait need not take five
minutes. The clock moves only when nothing else can happen first, and then only to the earliest
pending wake-up: later sleepers keep sleeping, so windows waiting 10 s and 300 s wake in the
order and at the API times they would in AWS, and what the local engine measures (slot use, how
long a finished report waits) is what AWS would show.

"Nothing else can happen" is counted, not guessed: every flow of the engine (an execution, each
worker of a Map) counts as active from the moment it is launched until it ends, except while it
sleeps here or waits for its Map's workers. Functions run inside their flow, so a running
invocation holds the clock still. The clock moves once no flow has been active for
``SETTLE_SECONDS``, which covers the instant between a Map's last worker ending and the Map's
flow taking over. (A Parallel state's branches are not counted: the workflow has none.)
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Protocol
from unittest import mock

import requests
from bwp import dependencies
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (
    InlineIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS

CONTROL_TIMEOUT = (2.0, 10.0)
SETTLE_SECONDS = 0.003
# How often a sleeper reads the clock to see whether real time alone has brought its wake-up.
CLOCK_LOOK_SECONDS = 1.0


class ApiClock(Protocol):
    def now(self) -> datetime: ...

    def advance_to(self, instant: datetime) -> None: ...


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
    """Sleeps on an ``ApiClock`` (which only ever moves forward), in wake-up order."""

    def __init__(self, clock: ApiClock) -> None:
        self.clock = clock
        self._changed = threading.Condition()
        self._sleepers: list[tuple[datetime, int]] = []  # a heap: the earliest wake-up first
        self._order = itertools.count()
        self._active = 0  # flows neither sleeping nor waiting for their Map's workers
        self._last_change = time.monotonic()
        self._reading: tuple[datetime, float] | None = None  # the API's time, and when it was so

    def sleep(self, seconds: float) -> None:
        """Called from within a flow: the flow is idle until the clock reaches its wake-up."""
        if seconds <= 0:
            return
        with self._changed:
            self._count(-1)
            try:
                self._sleep_until(self._now() + timedelta(seconds=seconds))
            finally:
                self._count(+1)

    def api_now(self) -> datetime:
        """The API's time as of the last reading, run on at real speed: no call to the clock."""
        with self._changed:
            return self._now() if self._reading is None else self._at_least_now()

    def flow_launched(self) -> None:
        with self._changed:
            self._count(+1)

    def flow_ended(self) -> None:
        with self._changed:
            self._count(-1)

    @contextmanager
    def _idle(self) -> Iterator[None]:
        self.flow_ended()
        try:
            yield
        finally:
            self.flow_launched()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Route the engine's Wait states and Retry intervals through ``sleep``, count its flows,
        and let the functions read the API's clock, as they would read the wall clock next to
        the real API."""
        virtual_time = self

        def wait_interval(function: WaitFunction, env, wait_seconds: int) -> None:
            virtual_time.sleep(wait_seconds)

        def start_execution(worker: ExecutionWorker) -> None:
            virtual_time.flow_launched()
            start(worker)

        def execution_logic(worker: ExecutionWorker) -> None:
            try:
                execution_logic_of(worker)
            finally:
                virtual_time.flow_ended()

        def launch_worker(component: InlineIterationComponent, env, eval_input, job_pool) -> object:
            # moto's own _launch_worker, with the worker's thread counted from its launch.
            worker = component._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)
            virtual_time.flow_launched()

            def counted() -> None:
                try:
                    worker.eval()
                finally:
                    virtual_time.flow_ended()

            thread = threading.Thread(target=counted, daemon=True)
            TMP_THREADS.append(thread)
            thread.start()
            return worker

        def await_jobs(pool: JobPool) -> None:
            with virtual_time._idle():
                await_jobs_of(pool)

        start, execution_logic_of = ExecutionWorker.start, ExecutionWorker._execution_logic
        await_jobs_of = JobPool.await_jobs
        with (
            mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
            mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=self.sleep)),
            mock.patch.object(ExecutionWorker, "start", start_execution),
            mock.patch.object(ExecutionWorker, "_execution_logic", execution_logic),
            mock.patch.object(InlineIterationComponent, "_launch_worker", launch_worker),
            mock.patch.object(JobPool, "await_jobs", await_jobs),
            mock.patch.object(dependencies, "clock", lambda: self.clock.now),
        ):
            yield

    # --- under self._changed ---------------------------------------------------------------
    def _sleep_until(self, wake_at: datetime) -> None:
        me = (wake_at, next(self._order))
        heapq.heappush(self._sleepers, me)
        next_reading = time.monotonic() + CLOCK_LOOK_SECONDS
        try:
            while True:
                timeout = CLOCK_LOOK_SECONDS
                if self._sleepers[0] == me and self._active <= 0:
                    settling = SETTLE_SECONDS - (time.monotonic() - self._last_change)
                    if settling <= 0:
                        self.clock.advance_to(wake_at)
                        self._note_reading(wake_at)
                        return
                    timeout = settling
                if time.monotonic() >= next_reading:
                    # Someone else (a test, the CLI) may have moved the emulator's clock.
                    self._note_reading(self.clock.now())
                    next_reading = time.monotonic() + CLOCK_LOOK_SECONDS
                if self._at_least_now() >= wake_at:
                    return
                # Every change of the count, and every move, wakes all sleepers.
                self._changed.wait(timeout)
        finally:
            self._sleepers.remove(me)
            heapq.heapify(self._sleepers)

    def _now(self) -> datetime:
        now = self.clock.now()
        self._note_reading(now)
        return now

    def _note_reading(self, instant: datetime) -> None:
        if self._reading is None or instant > self._at_least_now():
            self._reading = (instant, time.monotonic())

    def _at_least_now(self) -> datetime:
        """The API's time from the last reading (every sleep starts with one): the clock runs at
        least at real speed."""
        assert self._reading is not None
        instant, read_at = self._reading
        return instant + timedelta(seconds=time.monotonic() - read_at)

    def _count(self, change: int) -> None:
        self._active += change
        self._last_change = time.monotonic()
        self._changed.notify_all()

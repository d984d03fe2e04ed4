"""An emulator on a free loopback port per test, and a client for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bwp_lake.emulator import Emulator, EmulatorConfig
from tests.emulator.support import START, ApiClient


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def make(**overrides: Any) -> Emulator:
        settings = {"seed": 7, "rows_per_day": 200, "generation_seconds": 60.0, "port": 0, "start_time": START}
        emulator = Emulator(EmulatorConfig(**{**settings, **overrides})).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def api(emulator: Emulator) -> ApiClient:
    return ApiClient(emulator)

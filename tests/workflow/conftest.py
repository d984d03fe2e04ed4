"""The ASL on the local engine, against the emulator: what a run in AWS would do, offline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from emulator import Emulator, EmulatorConfig
from local.engine import ApiEndpoint, LocalEngine
from local.lambda_runtime import Invocation
from tests.workflow.support import ROWS_PER_DAY, SEED


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=120.0)) as running:
        yield running


@pytest.fixture
def engine_for(emulator) -> Iterator[Callable[..., LocalEngine]]:
    """Builds an engine on the emulator; ``on_invocation`` lets a test act between states."""
    with ExitStack() as stack:

        def build(
            on_invocation: Callable[[Invocation], None] | None = None,
            api: Emulator = emulator,
            lake_dir: Path | None = None,
        ) -> LocalEngine:
            credentials = api.credentials
            endpoint = ApiEndpoint(
                api.base_url, credentials["clientId"], credentials["clientSecret"], credentials["targetId"]
            )
            return stack.enter_context(LocalEngine(endpoint, on_invocation=on_invocation, lake_dir=lake_dir))

        yield build

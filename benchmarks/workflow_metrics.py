"""The workflow's figures from what a run leaves behind: task intervals, manifests' timings,
history event types and invocation durations. Arithmetic only, so it is tested on its own."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

# us-east-1 list prices as of 2026; free tiers left out, as a busy account has used them up.
PRICE_DATE = "2026"
STATE_TRANSITION_USD = 0.000025  # Step Functions Standard: $0.025 per 1,000 state transitions
LAMBDA_GB_SECOND_USD = 0.0000133334  # Lambda arm64, first 6 billion GB-seconds a month
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
# Lambda bills duration in whole milliseconds, rounded up.
BILLED_SECONDS_STEP = 0.001


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def slot_utilization(in_progress: Iterable[Interval], slots: int, wall_seconds: float) -> float:
    """Share of ``slots`` × the run's duration during which a report task was in progress."""
    if wall_seconds <= 0 or slots <= 0:
        raise ValueError("slot utilization needs a positive duration and at least one slot")
    return sum(interval.seconds for interval in in_progress) / (slots * wall_seconds)


def polling_overhead_share(completed_at: datetime, landing_started_at: datetime, generation_seconds: float) -> float:
    """How long a finished report waited for its landing, per second of its generation."""
    return (landing_started_at - completed_at).total_seconds() / generation_seconds


def state_transitions(event_types: Counter[str]) -> int:
    """What Step Functions bills from a history: every state entered, and every retry of a task
    (a retry schedules its function again without entering the state again)."""
    entered = sum(count for event_type, count in event_types.items() if event_type.endswith("StateEntered"))
    retries = max(0, event_types["LambdaFunctionScheduled"] - event_types["TaskStateEntered"])
    return entered + retries


def gb_seconds(invocations: Iterable[tuple[int, float]]) -> float:
    """GB-seconds billed for (memory MB, duration seconds) invocations."""
    total = 0.0
    for memory_mb, seconds in invocations:
        billed = math.ceil(round(seconds / BILLED_SECONDS_STEP, 6)) * BILLED_SECONDS_STEP
        total += memory_mb / 1024 * billed
    return total


def cost_usd(transitions: int, lambda_gb_seconds: float, requests: int) -> float:
    return transitions * STATE_TRANSITION_USD + lambda_gb_seconds * LAMBDA_GB_SECOND_USD + requests * LAMBDA_REQUEST_USD

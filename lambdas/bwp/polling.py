"""How long to wait before asking about a report again."""

from __future__ import annotations

from datetime import datetime

MIN_WAIT_SECONDS = 10
MAX_WAIT_SECONDS = 300
GROWTH = 2.0
# Once a report has been in progress for a while, polling more often than a quarter of its
# age so far saves little time and spends history events.
AGE_FRACTION = 0.25

IN_PROGRESS = frozenset({"STARTED", "RUNNING"})
COMPLETED = "COMPLETED"
FAILED = "FAILED"


def next_wait_seconds(previous_wait: int, requested_at: datetime | None, now: datetime) -> int:
    """Grow geometrically from the previous wait, never below a quarter of the report's age."""
    grown = previous_wait * GROWTH
    age = (now - requested_at).total_seconds() if requested_at else 0.0
    wanted = max(grown, age * AGE_FRACTION)
    return int(min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, wanted)))

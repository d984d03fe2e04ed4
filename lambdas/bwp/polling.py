"""How long to wait before asking about a report again.

With a report type's expected generation time (``bwp.generation``), the first check comes a
little before the report is due and later checks come close together around it, so a finished
report waits a small share of its generation time before it is landed. Without one, the waits
grow geometrically, never below a quarter of the report's age.
"""

from __future__ import annotations

from datetime import datetime

MIN_WAIT_SECONDS = 10
MAX_WAIT_SECONDS = 300  # every Wait is capped, expected or not: a stuck report is noticed
GROWTH = 2.0
# Once a report has been in progress (or overdue) for a while, polling more often than a quarter
# of that time saves little and spends history events.
AGE_FRACTION = 0.25
# A report may come in faster than its type's median: the first check is due a little early.
EARLY_FRACTION = 0.8
# From then on, checks every 5% of the expected time keep a finished report waiting at most
# about that share of its generation time.
DUE_INTERVAL_FRACTION = 0.05

# Each window runs as a child execution of a Distributed Map, with its own 25,000-event history;
# a poll costs 9 events (Wait 2, Task 5, Choice 2), so even three attempts of the whole cap stay
# far below the limit. With waits growing to five minutes the cap is about twelve hours.
MAX_POLLS = 150

IN_PROGRESS = frozenset({"STARTED", "RUNNING"})
COMPLETED = "COMPLETED"
FAILED = "FAILED"


def next_wait_seconds(
    previous_wait: int,
    requested_at: datetime | None,
    now: datetime,
    expected_seconds: float | None = None,
) -> int:
    """Seconds until the next check of a report requested at ``requested_at`` (None if the API
    did not say), ``previous_wait`` after the last one; 0 before the first."""
    age = max(0.0, (now - requested_at).total_seconds()) if requested_at else 0.0
    if expected_seconds and expected_seconds > 0 and requested_at:
        wanted = _around_due(age, expected_seconds)
    else:
        wanted = max(previous_wait * GROWTH, age * AGE_FRACTION)
    return int(min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, wanted)))


def _around_due(age: float, expected_seconds: float) -> float:
    first_check = expected_seconds * EARLY_FRACTION
    if age < first_check:
        return first_check - age
    # Overdue reports drift back to the age-based growth: the history was wrong about this one.
    overdue = max(0.0, age - expected_seconds)
    return max(expected_seconds * DUE_INTERVAL_FRACTION, overdue * AGE_FRACTION)

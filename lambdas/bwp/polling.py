"""How long to wait before asking about a report again.

With a report type's recent generation times (``bwp.generation``), the first check comes just
before the fastest recent report would have finished, and from then on every check comes after
a fixed share of the report's age: a finished report then waits at most that share of its
generation time before it is landed, however far this one strays from the history. Without
history the waits grow geometrically, never below a quarter of the report's age.
"""

from __future__ import annotations

from datetime import datetime

from bwp.models import ExpectedGeneration, ReportStatus

MIN_WAIT_SECONDS = 10
MAX_WAIT_SECONDS = 300  # every Wait is capped, history or not: a stuck report is noticed
GROWTH = 2.0
# Once a report has been in progress for a while, polling more often than a quarter of its age
# so far saves little and spends history events.
AGE_FRACTION = 0.25
# With history: the first check a little before the fastest recent report would have finished...
FIRST_CHECK_FRACTION = 0.9
# ...then after 8% of the age each time, which keeps a finished report waiting under 10% of its
# generation time for a handful of polls around the expected time.
DUE_AGE_FRACTION = 0.08

# Each window runs as a child execution of a Distributed Map, with its own 25,000-event history;
# a poll costs 9 events (Wait 2, Task 5, Choice 2), so even three attempts of the whole cap stay
# far below the limit. With waits growing to five minutes the cap is about twelve hours.
MAX_POLLS = 150
# A window's report task is started at most this many times: a FAILED, expired or vanished task
# is started again until then. The ASL's "Restart allowed?" choice holds the same number.
MAX_ATTEMPTS = 3

IN_PROGRESS = frozenset({ReportStatus.STARTED, ReportStatus.RUNNING})


def next_wait_seconds(
    previous_wait: int,
    requested_at: datetime | None,
    now: datetime,
    expected: ExpectedGeneration | None = None,
) -> int:
    """Seconds until the next check of a report requested at ``requested_at`` (None if the API
    did not say), ``previous_wait`` after the last one; 0 before the first."""
    age = max(0.0, (now - requested_at).total_seconds()) if requested_at else 0.0
    if expected is not None and requested_at:
        first_check = FIRST_CHECK_FRACTION * min(expected.earliest_seconds, expected.typical_seconds)
        wanted = first_check - age if age < first_check else age * DUE_AGE_FRACTION
    else:
        wanted = max(previous_wait * GROWTH, age * AGE_FRACTION)
    return int(min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, wanted)))

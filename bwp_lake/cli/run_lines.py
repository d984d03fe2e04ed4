"""What a person reads of an ingestion: the same lines on the local twin and on the deployed stack."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from bwp import errors
from bwp.errors import readable_cause

from bwp_lake import definition

MESSAGE_CHARS = 160

# What to do about a step that failed for good, by its error.
FIXES = {
    errors.ApiUnavailable.__name__: "check that the {api} is up and reachable, then run again",
    errors.ThrottlingException.__name__: "the API kept throttling; run again later",
    errors.AccessDeniedException.__name__: "check the API credentials, then run again",
    errors.InternalServerException.__name__: "the API kept failing on its side; run again later",
}


def is_input_refusal(error_type: str | None) -> bool:
    """The validation errors: the execution input is wrong, and retrying will not help."""
    error_class = getattr(errors, error_type or "", None)
    return isinstance(error_class, type) and issubclass(error_class, errors.InvalidExecutionInput)


@dataclass(frozen=True)
class FailedStep:
    """A step of the whole run (not of one window) that failed for good."""

    state: str
    error: str
    message: str
    retries: int
    retried_for: str  # how long the retries took, as a person reads it

    def text(self, api: str | None = None) -> str:
        tried = f" after {self.retries} retries over {self.retried_for}" if self.retries else ""
        fix = FIXES.get(self.error, "").format(api=f"API at {api}" if api else "API")
        return f"{self.state} failed{tried}: {self.error}: {self.message}" + (f"; {fix}" if fix else "")

    def record(self) -> dict[str, Any]:
        return {"state": self.state, "error": self.error, "retries": self.retries}


def short(message: str | None) -> str:
    """An error's message on one line, cut to a length a progress line can carry."""
    return " ".join((message or "").split())[:MESSAGE_CHARS]


def plan_line(plan: dict[str, Any]) -> str:
    """The output of *Plan windows* as one line: how many windows, how many of them heal gaps."""
    backfilled = plan.get("backfilled")
    healing = f" ({backfilled} of them missing days)" if backfilled else ""
    return f"planned {plan.get('windows', 0)} windows{healing}, {plan.get('maxConcurrency')} at a time"


def window_lines(report: dict[str, Any]) -> list[str]:
    """The run report's one line per window (Summarize writes it to the bucket), indented under
    the progress."""
    return [f"  {line}" for line in report.get("lines", [])]


def outcome_verdict(status: str, error: str | None, cause: str | None) -> str:
    """The execution's status, with its error and the cause's message (not its JSON) when it has them."""
    reason = ": ".join(part for part in (error, cause and readable_cause(cause)) if part)
    return f"{status}: {reason}" if reason else status


@dataclass(frozen=True)
class Retry:
    """A failed call that Step Functions will try again: the retry's number and its policy."""

    number: int
    retrier: definition.Retrier

    def text(self, time_unit: str = "s") -> str:
        up_to = "up to " if self.retrier.jittered else ""
        wait = self.retrier.longest_wait(self.number)
        return f"retry {self.number} of {self.retrier.max_attempts} in {up_to}{wait:g} {time_unit}"


class Retries:
    """Each step's failures since its last success, counted per retrier as Step Functions counts
    them, so that a failure reads as a retry (with its number, against the ASL's MaxAttempts)
    until the retries are spent."""

    def __init__(self) -> None:
        self.tasks = definition.task_states(definition.ASL_PATH.read_text())
        self._failures: dict[Hashable, dict[int, int]] = {}

    def failed(self, key: Hashable, state: str, error: str) -> Retry | None:
        """A failure of ``state`` (``key`` tells one step of one window from another): the retry
        to come, or None once none will."""
        task = self.tasks.get(state)
        retrier = task.retrier_for(error) if task else None
        index = task.retriers.index(retrier) if task and retrier else -1
        failures = self._failures.setdefault(key, {})
        failures[index] = failures.get(index, 0) + 1
        if retrier is None or failures[index] > retrier.max_attempts:
            return None
        return Retry(failures[index], retrier)

    def retried(self, key: Hashable) -> int:
        """How many times the step has been retried since its last success."""
        return max(sum(self._failures.get(key, {}).values()) - 1, 0)

    def succeeded(self, key: Hashable) -> None:
        self._failures.pop(key, None)

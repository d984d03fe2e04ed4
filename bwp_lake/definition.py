"""The ingestion workflow's definition and what it expects to be substituted into it.

Both engines read this: CDK (``definition_substitutions``) and the local engine (local function
ARNs). The ASL file is the one definition of the workflow.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bwp_lake import shipped_path

ASL_PATH = shipped_path("statemachine", "statemachine") / "ingest_reports.asl.json"


class Step(StrEnum):
    """A function of the workflow, named as its handler directory under lambdas/."""

    PLAN_WINDOWS = "plan_windows"
    START_REPORT = "start_report"
    CHECK_REPORT = "check_report"
    LAND_REPORT = "land_report"
    COMMIT_CURATED = "commit_curated"
    SUMMARIZE = "summarize"


# ASL placeholder -> the function whose ARN fills it
FUNCTION_PLACEHOLDERS: dict[str, Step] = {
    "PlanWindowsFunctionArn": Step.PLAN_WINDOWS,
    "StartReportFunctionArn": Step.START_REPORT,
    "CheckReportFunctionArn": Step.CHECK_REPORT,
    "LandReportFunctionArn": Step.LAND_REPORT,
    "CommitCuratedFunctionArn": Step.COMMIT_CURATED,
    "SummarizeFunctionArn": Step.SUMMARIZE,
}


def function_name(step: str) -> str:
    """The local engine's name for the function of a step (a directory under lambdas/)."""
    return f"bwp-{step.replace('_', '-')}"


# The local engine's function name -> its step, for whoever reads the invocations (progress lines).
FUNCTION_STEPS: dict[str, Step] = {function_name(step): step for step in Step}


# The lake bucket, where the Distributed Map writes its result files.
BUCKET_PLACEHOLDER = "LakeBucketName"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def placeholders(definition: str) -> set[str]:
    """Names of every ``${name}`` in a definition."""
    return set(_PLACEHOLDER.findall(definition))


def render(definition: str, substitutions: dict[str, str]) -> str:
    """Fill every placeholder; a missing substitution is an error, never left in place."""
    missing = placeholders(definition) - substitutions.keys()
    if missing:
        raise KeyError(f"no substitution for {', '.join(sorted(missing))}")
    return _PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], definition)


@dataclass(frozen=True)
class Retrier:
    """One ``Retry`` entry of a Task state: which errors it retries, how often and how long apart."""

    errors: tuple[str, ...]
    max_attempts: int
    interval_seconds: float
    backoff_rate: float
    max_delay_seconds: float | None
    jittered: bool

    def matches(self, error: str) -> bool:
        return error in self.errors or "States.ALL" in self.errors

    def longest_wait(self, retry: int) -> float:
        """The longest wait before retry number ``retry`` (1 for the first); with full jitter
        Step Functions waits a random time up to it."""
        wait = self.interval_seconds * self.backoff_rate ** (retry - 1)
        return wait if self.max_delay_seconds is None else min(wait, self.max_delay_seconds)


@dataclass(frozen=True)
class TaskState:
    name: str
    step: str  # the handler directory under lambdas/
    retriers: tuple[Retrier, ...]

    def retrier_for(self, error: str) -> Retrier | None:
        """The retrier Step Functions applies to ``error``: the first that names it."""
        return next((retrier for retrier in self.retriers if retrier.matches(error)), None)


def task_states(definition: str) -> dict[str, TaskState]:
    """The Task states that run one of the functions, Map children's included, by name."""
    found: dict[str, TaskState] = {}

    def collect(states: dict[str, Any]) -> None:
        for name, state in states.items():
            placeholder = _PLACEHOLDER.fullmatch(state.get("Resource", ""))
            if state.get("Type") == "Task" and placeholder and placeholder.group(1) in FUNCTION_PLACEHOLDERS:
                found[name] = TaskState(
                    name,
                    FUNCTION_PLACEHOLDERS[placeholder.group(1)],
                    tuple(_retrier(entry) for entry in state.get("Retry", [])),
                )
            if "ItemProcessor" in state:
                collect(state["ItemProcessor"]["States"])

    collect(json.loads(definition)["States"])
    return found


def _retrier(entry: dict[str, Any]) -> Retrier:
    # Step Functions' defaults for what an entry leaves out.
    return Retrier(
        errors=tuple(entry["ErrorEquals"]),
        max_attempts=entry.get("MaxAttempts", 3),
        interval_seconds=entry.get("IntervalSeconds", 1),
        backoff_rate=entry.get("BackoffRate", 2.0),
        max_delay_seconds=entry.get("MaxDelaySeconds"),
        jittered=entry.get("JitterStrategy", "NONE") == "FULL",
    )

"""The ingestion workflow's definition and what it expects to be substituted into it.

Both engines read this: CDK (``definition_substitutions``) and the local engine (local function
ARNs). The ASL file is the one definition of the workflow.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bwp_lake import shipped_path

ASL_PATH = shipped_path("statemachine", "statemachine") / "ingest_reports.asl.json"

class Step(StrEnum):
    """A function of the workflow, named as its handler directory under lambdas/."""

    PLAN_WINDOWS = "plan_windows"
    START_REPORT = "start_report"
    CHECK_REPORT = "check_report"
    LAND_REPORT = "land_report"
    SUMMARIZE = "summarize"


# ASL placeholder -> the function whose ARN fills it
FUNCTION_PLACEHOLDERS: dict[str, Step] = {
    "PlanWindowsFunctionArn": Step.PLAN_WINDOWS,
    "StartReportFunctionArn": Step.START_REPORT,
    "CheckReportFunctionArn": Step.CHECK_REPORT,
    "LandReportFunctionArn": Step.LAND_REPORT,
    "SummarizeFunctionArn": Step.SUMMARIZE,
}

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

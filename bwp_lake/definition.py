"""The ingestion workflow's definition and what it expects to be substituted into it.

Both engines read this: CDK (``definition_substitutions``) and the local engine (local function
ARNs). The ASL file is the one definition of the workflow.
"""

from __future__ import annotations

import re

from bwp_lake import shipped_path

ASL_PATH = shipped_path("statemachine", "statemachine") / "ingest_reports.asl.json"

# ASL placeholder -> Lambda handler directory under lambdas/
FUNCTION_PLACEHOLDERS: dict[str, str] = {
    "PlanWindowsFunctionArn": "plan_windows",
    "StartReportFunctionArn": "start_report",
    "CheckReportFunctionArn": "check_report",
    "LandReportFunctionArn": "land_report",
    "SummarizeFunctionArn": "summarize",
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

"""What a person reads of an ingestion: the same lines on the local twin and on the deployed stack."""

from __future__ import annotations

from typing import Any

from bwp.errors import readable_cause


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

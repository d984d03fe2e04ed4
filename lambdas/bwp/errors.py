"""Errors named for what happened.

A Lambda's ``errorType`` is the class name of the exception it raised, so these names are the
state machine's ``ErrorEquals``. The first five mirror the API's ``errorType`` values. Step
Functions carries such an error's message as a JSON cause; ``readable_cause`` gets it back.
"""

from __future__ import annotations

import json


class BwpError(Exception):
    """Base of every error this package raises on purpose."""


# --- the API's own error types -------------------------------------------------------------
class ThrottlingException(BwpError):
    """Too many requests, or a sixth report task while five are in progress: retry later."""


class InternalServerException(BwpError):
    """The API failed on its side: retry later."""


class ResourceNotFoundException(BwpError):
    """The task id is unknown or its report expired (seven days after creation)."""


class ValidationException(BwpError):
    """The request was refused as invalid; retrying the same request will not help."""


class AccessDeniedException(BwpError):
    """The credentials or token lack permission; fix the secret, then re-run."""


# --- our own -------------------------------------------------------------------------------
class ApiUnavailable(BwpError):
    """The API could not be reached or answered 5xx/garbage: transient, retry later."""


class AwsUnavailable(BwpError):
    """S3 or Secrets Manager throttled, failed on its side or could not be reached: retry later."""


class TaskSlotsBusy(BwpError):
    """Every one of the merchant's report task slots is taken by some execution: retry later."""


class InvalidExecutionInput(BwpError):
    """The execution input is wrong; the message names the field."""


class UnknownReportType(InvalidExecutionInput):
    """A report type the schema registry does not know."""


class StoreNotConfigured(BwpError):
    """A store that the deployment's configuration does not name (removed since, or mistyped)."""


class UnknownReportStatus(BwpError):
    """reportTask answered a status we do not know; never mistaken for success."""


class ReportFailed(BwpError):
    """The API reported the task FAILED (after the allowed restarts)."""


class ReportTimedOut(BwpError):
    """The report was still in progress when the poll budget ran out."""


class DownloadLinkExpired(BwpError):
    """The signed download URL was refused (expired or revoked) and refetching did not help."""


class DownloadHostNotAllowed(BwpError):
    """The download URL points at a host outside the allowlist: refused, never fetched."""


class DownloadInterrupted(BwpError):
    """The download broke more times than the resume budget allows: transient, retry later."""


class EmptyReport(BwpError):
    """The download had no header line at all."""


class CuratedWriteFailed(BwpError):
    """The staged raw CSV could not be turned into its typed Parquet file (it is not the CSV its
    header says); nothing is published, and the report as served is kept under quarantine/, the
    message naming where."""


class CuratedCommitConflict(BwpError):
    """Another writer committed to a curated table first, on every one of the commit's attempts
    (each re-planned from the table as that writer left it): nothing of this commit is in the
    table, whose readers stay on the other writer's snapshot; retry later."""


class CredentialsMisconfigured(BwpError):
    """The credentials secret is missing a field or is not JSON."""


class InvalidSettings(BwpError):
    """The function's environment variables are missing or malformed."""


class UnexpectedApiResponse(BwpError):
    """The API answered something we cannot interpret; the message carries what it said."""


def readable_cause(cause: str | None) -> str:
    """A Lambda error's cause is JSON with the message inside; the message is what a person reads."""
    if not cause:
        return "no cause given"
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return str(parsed.get("errorMessage", cause)) if isinstance(parsed, dict) else cause


# What the state machine retries with backoff, because a later attempt can succeed where this one
# failed; everything else fails the window at once (tests/unit/test_asl.py holds the ASL to this).
TRANSIENT: tuple[type[BwpError], ...] = (
    ThrottlingException,
    InternalServerException,
    ApiUnavailable,
    AwsUnavailable,
    TaskSlotsBusy,
    DownloadInterrupted,
    DownloadLinkExpired,
    CuratedCommitConflict,
)

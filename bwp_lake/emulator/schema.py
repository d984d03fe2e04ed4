"""The GraphQL schema of the reporting API and the shape of its errors.

The schema admits exactly what the documentation's requests send: ``reportType`` is a String
(the examples quote it), the dates are Strings checked by the resolver (so a bad date is the
documented ``InvalidDateFormat``, not a GraphQL type error).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, build_schema

SDL = """
type Query {
  "Status of a report task; ResourceNotFoundError once it is seven days old."
  reportTask(taskId: String!): ReportTask
  "A link to a COMPLETED report that works for five minutes."
  reportDownloadLink(taskId: String!): ReportDownloadLink
}

type Mutation {
  "Start generating a report; at most five tasks per target id may be STARTED or RUNNING."
  startReportTask(input: StartReportTaskInput!): StartReportTaskResult
}

input StartReportTaskInput {
  "ORDER_FEES or USER_EVENTS"
  reportType: String!
  "Defaults to the seven days before now."
  timeRange: TimeRangeInput
}

input TimeRangeInput {
  "ISO-8601 UTC, inclusive"
  startDate: String
  "ISO-8601 UTC, exclusive"
  endDate: String
}

type StartReportTaskResult {
  taskId: String!
}

enum ReportTaskStatus {
  STARTED
  RUNNING
  COMPLETED
  FAILED
}

type ReportTask {
  taskId: String!
  reportType: String!
  status: ReportTaskStatus!
  requestTime: String!
  lastUpdatedTime: String!
}

type ReportDownloadLink {
  downloadUrl: String!
}
"""

SCHEMA = build_schema(SDL)

# operation fields whose calls the emulator counts (and that faults apply to)
OPERATIONS = ("startReportTask", "reportTask", "reportDownloadLink")

# kind -> (errorCode); type is "<kind>Error", errorType "<kind>Exception"
_ERROR_CODES = {
    "AccessDenied": 403,
    "InternalServer": 500,
    "ResourceNotFound": 404,
    "Throttling": 429,
    "Validation": 400,
}


def api_error(kind: str, message: str, *, code: str | None = None) -> GraphQLError:
    """An error as the API classifies it; graphql-core adds ``locations`` and ``path``."""
    classification: dict[str, Any] = {"type": f"{kind}Error"}
    if code is not None:
        classification["code"] = code
        classification["details"] = {"message": message}
    classification["errorType"] = f"{kind}Exception"
    classification["errorCode"] = _ERROR_CODES[kind]
    return GraphQLError(message, extensions={"classification": classification})


def document_error(error: GraphQLError, code: str) -> dict[str, Any]:
    """A syntax or schema error in the request document, classified like the API's other errors."""
    formatted = error.formatted
    formatted["extensions"] = {
        "classification": {
            "type": "ValidationError",
            "code": code,
            "details": {"message": error.message},
            "errorType": "ValidationException",
            "errorCode": 400,
        }
    }
    return formatted

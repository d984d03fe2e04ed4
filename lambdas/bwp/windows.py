"""Execution input -> (report type, UTC day) windows, and how long each may be polled.

Everything that can be wrong with an execution's input is found here, before any report task
starts, and the error names the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bwp.errors import InvalidExecutionInput, UnknownReportType
from bwp.schemas import REPORT_TYPES, schema_for

MAX_RANGE_DAYS = 400
MAX_CONCURRENCY = 5  # the API allows five report tasks in progress per target
DEFAULT_DAYS = 7  # the API's own default range: the last seven days

# Each window runs as a child execution of a Distributed Map, with its own 25,000-event history;
# a poll costs 9 events (Wait 2, Task 5, Choice 2), so even three attempts of the whole cap stay
# far below the limit. With waits growing to five minutes the cap is about twelve hours.
MAX_POLLS = 150


class ExecutionRequest(BaseModel):
    """The execution input, as a person or the schedule writes it."""

    model_config = ConfigDict(extra="forbid")

    report_types: list[str] | None = Field(None, alias="reportTypes", min_length=1)
    start_date: str | None = Field(None, alias="startDate")
    end_date: str | None = Field(None, alias="endDate")
    lookback_days: int | None = Field(None, alias="lookbackDays", ge=1, le=MAX_RANGE_DAYS)
    max_concurrency: int = Field(MAX_CONCURRENCY, alias="maxConcurrency", ge=1, le=MAX_CONCURRENCY)

    @field_validator("report_types")
    @classmethod
    def _known_report_types(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for report_type in value:
                try:
                    schema_for(report_type)
                except UnknownReportType as error:
                    raise UnknownReportType(f"reportTypes: {error}") from None
            value = list(dict.fromkeys(value))
        return value


class Window(BaseModel):
    """One report task: one report type over one whole UTC day."""

    report_type: str = Field(alias="reportType")
    day: date
    start_date: str = Field(alias="startDate")
    end_date: str = Field(alias="endDate")

    model_config = ConfigDict(populate_by_name=True)


class Plan(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    windows: list[Window]
    max_concurrency: int = Field(alias="maxConcurrency")
    max_polls: int = Field(alias="maxPolls")
    first_day: date = Field(alias="firstDay")
    end_day: date = Field(alias="endDay")
    widened: bool


def parse_request(payload: object) -> ExecutionRequest:
    if not isinstance(payload, dict):
        raise InvalidExecutionInput(f"execution input must be a JSON object, got {type(payload).__name__}")
    try:
        return ExecutionRequest.model_validate(payload)
    except ValidationError as error:
        raise InvalidExecutionInput(_describe(error)) from None


def plan_windows(request: ExecutionRequest, now: datetime) -> Plan:
    """Expand a request into windows; ``now`` is when the execution started (UTC)."""
    today = now.astimezone(UTC).date()
    first_day, end_day, widened = _day_range(request, today)
    if first_day >= end_day:
        raise InvalidExecutionInput(f"startDate ({first_day}) must be before endDate ({end_day})")
    if end_day > today + timedelta(days=1):
        raise InvalidExecutionInput(f"endDate ({end_day}) reaches into the future: today is {today} (UTC)")
    days = (end_day - first_day).days
    if days > MAX_RANGE_DAYS:
        raise InvalidExecutionInput(f"startDate..endDate spans {days} days; at most {MAX_RANGE_DAYS} per execution")

    report_types = request.report_types or list(REPORT_TYPES)
    windows = [
        Window(
            report_type=report_type,
            day=day,
            start_date=_iso(day),
            end_date=_iso(day + timedelta(days=1)),
        )
        for day in (first_day + timedelta(days=offset) for offset in range(days))
        for report_type in report_types
    ]
    return Plan(
        windows=windows,
        max_concurrency=request.max_concurrency,
        max_polls=MAX_POLLS,
        first_day=first_day,
        end_day=end_day,
        widened=widened,
    )


def _day_range(request: ExecutionRequest, today: date) -> tuple[date, date, bool]:
    explicit = request.start_date is not None or request.end_date is not None
    if explicit and request.lookback_days is not None:
        raise InvalidExecutionInput("lookbackDays: give either lookbackDays or startDate/endDate, not both")
    if explicit:
        if request.start_date is None or request.end_date is None:
            missing = "startDate" if request.start_date is None else "endDate"
            raise InvalidExecutionInput(f"{missing}: required when the other date is given")
        first, start_widened = _parse_day(request.start_date, "startDate", round_up=False)
        end, end_widened = _parse_day(request.end_date, "endDate", round_up=True)
        return first, end, start_widened or end_widened
    days = request.lookback_days or DEFAULT_DAYS
    return today - timedelta(days=days), today, False


def _parse_day(value: str, field: str, *, round_up: bool) -> tuple[date, bool]:
    """A date, or a timestamp widened to the whole UTC day that contains it."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value), False
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidExecutionInput(
            f"{field}: {value!r} is not an ISO-8601 date (YYYY-MM-DD) or UTC timestamp"
        ) from None
    if instant.tzinfo is None:
        raise InvalidExecutionInput(f"{field}: {value!r} has no time zone; write it in UTC, e.g. {value}Z")
    instant = instant.astimezone(UTC)
    day = instant.date()
    on_boundary = instant.timetz().replace(tzinfo=None) == time(0)
    if round_up and not on_boundary:
        day += timedelta(days=1)
    return day, not on_boundary


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "input"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (known: reportTypes, startDate, endDate, lookbackDays, maxConcurrency)"
        problems.append(f"{field}: {message}")
    return "; ".join(problems)

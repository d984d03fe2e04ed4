"""Execution input -> (report type, UTC day) windows.

Everything that can be wrong with an execution's input is found here, before any report task
starts, and the error names the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain, zip_longest
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bwp.errors import InvalidExecutionInput, UnknownReportType
from bwp.gaps import missing_days
from bwp.lake.contract import API_CONCURRENT_TASKS, MAX_BACKFILL_WINDOWS, MAX_RANGE_DAYS
from bwp.lake.partition import Series
from bwp.lake.schemas import REPORT_TYPES, schema_for
from bwp.lake.stores import STORE_ID_RULE, StoreConfig, is_store_id
from bwp.models import ExpectedGeneration, Plan, StoreScope, Window
from bwp.observability import logger

DEFAULT_DAYS = 7  # the API's own default range: the last seven days
# What a run heals of the history when the input names backfillFrom but not maxBackfillWindows:
# a month of one report type a night keeps a scheduled run short.
DEFAULT_BACKFILL_WINDOWS = 30
# Athena's date projection counts days from the epoch: nothing before it can be a partition.
EPOCH_DAY = date(1970, 1, 1)

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class ExecutionRequest(BaseModel):
    """The execution input, as a person or the schedule writes it.

    Strict: JSON's own types only, so ``"3"``, ``true`` or ``2.0`` for a number of days is refused
    rather than guessed at.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    # The stores to ingest; None: every configured store.
    stores: list[str] | None = Field(None, min_length=1)
    report_types: list[str] | None = Field(None, alias="reportTypes", min_length=1)
    start_date: str | None = Field(None, alias="startDate")
    end_date: str | None = Field(None, alias="endDate")
    lookback_days: int | None = Field(None, alias="lookbackDays", ge=1, le=MAX_RANGE_DAYS)
    max_concurrency: int = Field(API_CONCURRENT_TASKS, alias="maxConcurrency", ge=1, le=API_CONCURRENT_TASKS)
    backfill_from: date | None = Field(None, alias="backfillFrom")
    max_backfill_windows: int | None = Field(None, alias="maxBackfillWindows", ge=0, le=MAX_BACKFILL_WINDOWS)

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

    @field_validator("stores")
    @classmethod
    def _store_ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for store in value:
                if not is_store_id(store):
                    raise ValueError(f"{store!r} is not a store id ({STORE_ID_RULE})")
            value = list(dict.fromkeys(value))
        return value

    @property
    def planned_report_types(self) -> list[str]:
        """The report types asked for, or else every type of the registry."""
        return self.report_types or list(REPORT_TYPES)

    def report_types_of(self, store: StoreConfig) -> list[str]:
        """The report types asked for that ``store`` ingests, in the order asked."""
        return [report_type for report_type in self.planned_report_types if report_type in store.ingested_report_types]

    @field_validator("backfill_from", mode="before")
    @classmethod
    def _iso_day(cls, value: object) -> object:
        if not isinstance(value, str) or not _ISO_DAY.match(value):
            raise ValueError("must be a date string, YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("is not a calendar date (YYYY-MM-DD)") from None


def known_fields() -> list[str]:
    return [field.alias or name for name, field in ExecutionRequest.model_fields.items()]


def _backfill(
    request: ExecutionRequest, store: StoreScope, first_day: date, landed: Mapping[Series, set[date]]
) -> list[tuple[str, date]]:
    """A store's oldest missing (report type, day) pairs since ``backfillFrom`` before the first
    planned day, at most ``maxBackfillWindows`` of them: each store heals its own history."""
    if request.backfill_from is None:
        return []
    missing = sorted(
        (day, series.report_type)
        for series in store.series
        for day in missing_days(landed.get(series, set()), request.backfill_from, first_day)
    )
    limit = DEFAULT_BACKFILL_WINDOWS if request.max_backfill_windows is None else request.max_backfill_windows
    planned = missing[:limit]
    logger.info(
        "backfill planned",
        extra={"store": store.store, "missing": len(missing), "planned": len(planned), "limit": limit},
    )
    return [(report_type, day) for day, report_type in planned]


def parse_request(payload: object) -> ExecutionRequest:
    if not isinstance(payload, dict):
        raise InvalidExecutionInput(f"execution input: must be a JSON object, got {_json_type(payload)}")
    nulls = [name for name in known_fields() if name in payload and payload[name] is None]
    if nulls:
        raise InvalidExecutionInput(
            "; ".join(f"{name}: must not be null; leave the field out for its default" for name in nulls)
        )
    try:
        return ExecutionRequest.model_validate(payload)
    except ValidationError as error:
        raise InvalidExecutionInput(_describe(error)) from None


def stores_of(request: ExecutionRequest, configured: Sequence[StoreConfig]) -> list[StoreConfig]:
    """The configured stores the request asks for (all of them when it names none), or
    InvalidExecutionInput naming the stores that are not configured."""
    if request.stores is None:
        return list(configured)
    by_id = {store.id: store for store in configured}
    if unknown := [store for store in request.stores if store not in by_id]:
        raise InvalidExecutionInput(
            f"stores: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not configured; "
            f"configured: {', '.join(by_id)}"
        )
    return [by_id[store] for store in request.stores]


@dataclass(frozen=True)
class RequestedDays:
    """The UTC days an execution asked for, [first_day, end_day), once the request is known good."""

    first_day: date
    end_day: date
    widened: bool  # timestamps were widened to whole days


def check_request(request: ExecutionRequest, now: datetime, projection_start: date) -> RequestedDays:
    """The days ``request`` asks for, or InvalidExecutionInput naming the field: no I/O, so that bad
    input is refused before anything is read or started. ``now`` is when the execution started
    (UTC), and ``projection_start`` the first day the lake's tables project."""
    today = now.astimezone(UTC).date()
    first_allowed = max(projection_start, EPOCH_DAY)
    first_day, end_day, widened = _day_range(request, today)
    if first_day >= end_day:
        raise InvalidExecutionInput(f"startDate ({first_day}) must be before endDate ({end_day})")
    if end_day > today + timedelta(days=1):
        raise InvalidExecutionInput(f"endDate ({end_day}) reaches into the future: today is {today} (UTC)")
    days = (end_day - first_day).days
    if days > MAX_RANGE_DAYS:
        raise InvalidExecutionInput(f"startDate..endDate spans {days} days; at most {MAX_RANGE_DAYS} per execution")
    if first_day < first_allowed:
        field = "startDate" if request.start_date is not None else "lookbackDays"
        raise InvalidExecutionInput(f"{field}: the first day, {first_day}, {_before(first_allowed)}")
    if request.backfill_from is not None:
        if request.backfill_from < first_allowed:
            raise InvalidExecutionInput(f"backfillFrom: {request.backfill_from} {_before(first_allowed)}")
        if request.backfill_from > today:
            raise InvalidExecutionInput(
                f"backfillFrom: {request.backfill_from} is in the future: today is {today} (UTC)"
            )
    return RequestedDays(first_day, end_day, widened)


def plan_windows(
    request: ExecutionRequest,
    requested: RequestedDays,
    stores: Sequence[StoreConfig],
    *,
    landed: Mapping[Series, set[date]] | None = None,
    expected: Mapping[str, ExpectedGeneration] | None = None,
) -> Plan:
    """For each store, the windows of the ``requested`` days, then its oldest days since
    ``backfillFrom`` that have not ``landed`` (series -> days); each window carries its report
    type's ``expected`` generation time.

    The stores' windows are interleaved, so that a run of several stores starts each store's
    first windows first; the Map runs ``maxConcurrency`` windows per store."""
    first_day, end_day = requested.first_day, requested.end_day
    days = [first_day + timedelta(days=offset) for offset in range((end_day - first_day).days)]
    if requested.widened:
        logger.warning(
            "timestamps widened to whole UTC days", extra={"first_day": str(first_day), "end_day": str(end_day)}
        )
    expected = expected or {}
    scopes = [StoreScope(store=store.id, report_types=request.report_types_of(store)) for store in stores]
    per_store: list[list[Window]] = []
    backfilled = 0
    for scope in scopes:
        asked = [(report_type, day) for day in days for report_type in scope.report_types]
        backfill = _backfill(request, scope, first_day, landed or {})
        backfilled += len(backfill)
        per_store.append(
            [
                Window(
                    store=scope.store,
                    report_type=report_type,
                    day=day,
                    start_date=_iso(day),
                    end_date=_iso(day + timedelta(days=1)),
                    expected_generation=expected.get(report_type),
                )
                for report_type, day in asked + backfill
            ]
        )
    interleaved = [window for window in chain.from_iterable(zip_longest(*per_store)) if window is not None]
    return Plan(
        windows=interleaved,
        backfilled=backfilled,
        max_concurrency=request.max_concurrency * max(1, len(scopes)),
        first_day=first_day,
        end_day=end_day,
        widened=requested.widened,
        stores=scopes,
        coverage_from=min(request.backfill_from or first_day, first_day),
    )


def _before(first_allowed: date) -> str:
    if first_allowed == EPOCH_DAY:
        return f"is before {EPOCH_DAY}, the first day a partition can have"
    return f"is before the lake's first day, {first_allowed} (projectionStartDate): the tables would not see it"


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
        if _ISO_DAY.match(value):
            return date.fromisoformat(value), False
        if not _ISO_TIMESTAMP.match(value):
            raise ValueError(value)
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidExecutionInput(
            f"{field}: {value!r} is not an ISO-8601 date (YYYY-MM-DD) or UTC timestamp"
        ) from None
    if instant.tzinfo is None:
        raise InvalidExecutionInput(f"{field}: {value!r} has no time zone; write it in UTC, e.g. {value}Z")
    try:
        instant = instant.astimezone(UTC)
        day = instant.date()
        on_boundary = instant.timetz().replace(tzinfo=None) == time(0)
        if round_up and not on_boundary:
            day += timedelta(days=1)
    except OverflowError:
        raise InvalidExecutionInput(f"{field}: {value!r} is outside the calendar") from None
    return day, not on_boundary


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


_MESSAGES = {
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "too_short": "must not be empty",
}


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "input"
        kind, context = item["type"], item.get("ctx") or {}
        if kind == "extra_forbidden":
            problems.append(f"{field}: unknown field (known: {', '.join(known_fields())})")
            continue
        if kind == "greater_than_equal":
            message = f"must be at least {context['ge']}"
        elif kind == "less_than_equal":
            message = f"must be at most {context['le']}"
        elif kind == "value_error":
            message = str(context["error"])
        else:
            message = _MESSAGES.get(kind, item["msg"])
        problems.append(f"{field}: {message}, got {_shown(item['input'])}")
    return "; ".join(problems)


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _json_type(value: object) -> str:
    """The JSON name of a value's type, as the person who wrote the input knows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__

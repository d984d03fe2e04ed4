"""Execution input -> windows: every bad input is refused before any report task starts."""

from datetime import UTC, date, datetime

import pytest
from bwp.errors import InvalidExecutionInput, UnknownReportType
from bwp.windows import check_request, parse_request, plan_windows

NOW = datetime(2024, 8, 25, 6, 30, tzinfo=UTC)
# Early enough for the longest range allowed to end today.
PROJECTION_START = date(2023, 1, 1)


def plan(payload):
    request = parse_request(payload)
    return plan_windows(request, check_request(request, NOW, PROJECTION_START))


def test_explicit_range_expands_to_one_window_per_type_and_day_with_exclusive_end():
    # given two report types over three days
    result = plan({"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-08-01", "endDate": "2024-08-04"})
    # then each (type, day) is one window covering [day 00:00Z, next day 00:00Z)
    assert [(w.report_type, w.day) for w in result.windows] == [
        ("ORDER_FEES", date(2024, 8, 1)),
        ("USER_EVENTS", date(2024, 8, 1)),
        ("ORDER_FEES", date(2024, 8, 2)),
        ("USER_EVENTS", date(2024, 8, 2)),
        ("ORDER_FEES", date(2024, 8, 3)),
        ("USER_EVENTS", date(2024, 8, 3)),
    ]
    assert result.windows[0].start_date == "2024-08-01T00:00:00Z"
    assert result.windows[0].end_date == "2024-08-02T00:00:00Z"
    assert result.widened is False


def test_timestamps_are_widened_to_whole_utc_days():
    # given timestamps inside days (one with an offset)
    result = plan(
        {"reportTypes": ["ORDER_FEES"], "startDate": "2024-08-01T05:00:00Z", "endDate": "2024-08-03T01:00:00+02:00"}
    )
    # then the start is floored and the end (2024-08-02T23:00Z) rounded up to the next midnight
    assert [w.day for w in result.windows] == [date(2024, 8, 1), date(2024, 8, 2)]
    assert result.widened is True


def test_lookback_takes_the_last_complete_days_before_the_execution_started():
    result = plan({"lookbackDays": 3, "reportTypes": ["USER_EVENTS"]})
    assert [w.day for w in result.windows] == [date(2024, 8, 22), date(2024, 8, 23), date(2024, 8, 24)]


def test_empty_input_means_the_apis_default_of_seven_days_for_every_report_type():
    result = plan({})
    assert {w.report_type for w in result.windows} == {"ORDER_FEES", "USER_EVENTS"}
    assert sorted({w.day for w in result.windows}) == [date(2024, 8, d) for d in range(18, 25)]
    assert result.max_concurrency == 5


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"reportTypes": ["ORDER_FEES", "INVENTORY"]}, "INVENTORY"),
        ({"startDate": "2024-13-01", "endDate": "2024-08-02"}, "startDate"),
        ({"startDate": "2024-08-05", "endDate": "2024-08-05"}, "startDate"),
        ({"startDate": "2024-08-06", "endDate": "2024-08-05"}, "before endDate"),
        ({"startDate": "2024-08-20", "endDate": "2024-08-28"}, "future"),
        ({"startDate": "2023-01-01", "endDate": "2024-08-01"}, "400"),
        ({"startDate": "2024-08-01"}, "endDate"),
        ({"startDate": "2024-08-01T00:00:00", "endDate": "2024-08-02"}, "time zone"),
        ({"lookbackDays": 0}, "lookbackDays"),
        ({"lookbackDays": 2, "startDate": "2024-08-01", "endDate": "2024-08-02"}, "lookbackDays"),
        ({"maxConcurrency": 6}, "maxConcurrency"),
        ({"reportTypes": []}, "reportTypes"),
        ({"reportType": "ORDER_FEES"}, "reportType: unknown field"),
    ],
)
def test_bad_input_is_refused_naming_the_problem(payload, named):
    with pytest.raises(InvalidExecutionInput) as refused:
        plan(payload)
    assert named in str(refused.value)


def test_unknown_report_type_has_its_own_error_name_for_the_state_machine():
    with pytest.raises(UnknownReportType, match="reportTypes: unknown report type 'INVENTORY'"):
        plan({"reportTypes": ["INVENTORY"]})


def test_input_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidExecutionInput, match="JSON object"):
        parse_request(["ORDER_FEES"])


def test_today_is_allowed_but_tomorrow_is_future():
    assert plan({"startDate": "2024-08-25", "endDate": "2024-08-26", "reportTypes": ["ORDER_FEES"]}).windows
    with pytest.raises(InvalidExecutionInput, match="future"):
        plan({"startDate": "2024-08-26", "endDate": "2024-08-27", "reportTypes": ["ORDER_FEES"]})


def test_a_long_backfill_is_one_execution():
    # given the longest range allowed, for both report types
    result = plan({"startDate": "2023-07-22", "endDate": "2024-08-25"})
    # then every (type, day) is a window of its own
    assert len(result.windows) == 2 * 400

"""Execution input -> windows: every bad input is refused before any report task starts."""

from datetime import UTC, date, datetime

import pytest
from bwp.errors import InvalidExecutionInput, UnknownReportType
from bwp.lake.partition import Series
from bwp.lake.stores import StoreConfig
from bwp.windows import check_request, parse_request, plan_windows, stores_of

NOW = datetime(2024, 8, 25, 6, 30, tzinfo=UTC)
# Early enough for the longest range allowed to end today.
PROJECTION_START = date(2023, 1, 1)


ONE_STORE = (StoreConfig(id="default", secret_id="secret"),)
TWO_STORES = (
    StoreConfig(id="acme", secret_id="acme-secret"),
    StoreConfig(id="acme-eu", secret_id="eu-secret", report_types=("ORDER_FEES",)),
)


def plan(payload, stores=ONE_STORE, landed=None):
    request = parse_request(payload)
    return plan_windows(
        request, check_request(request, NOW, PROJECTION_START), stores_of(request, stores), landed=landed
    )


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


# --- stores ------------------------------------------------------------------------------------
def test_each_store_gets_its_own_windows_of_its_own_report_types_interleaved():
    # given two stores, the second ingesting only ORDER_FEES
    result = plan({"startDate": "2024-08-01", "endDate": "2024-08-03"}, TWO_STORES)
    # then acme gets both types, acme-eu only ORDER_FEES, and the stores take turns in the plan
    assert [(w.store, w.report_type, str(w.day)) for w in result.windows] == [
        ("acme", "ORDER_FEES", "2024-08-01"),
        ("acme-eu", "ORDER_FEES", "2024-08-01"),
        ("acme", "USER_EVENTS", "2024-08-01"),
        ("acme-eu", "ORDER_FEES", "2024-08-02"),
        ("acme", "ORDER_FEES", "2024-08-02"),
        ("acme", "USER_EVENTS", "2024-08-02"),
    ]
    assert [(s.store, s.report_types) for s in result.stores] == [
        ("acme", ["ORDER_FEES", "USER_EVENTS"]),
        ("acme-eu", ["ORDER_FEES"]),
    ]
    # and the Map runs five windows per store
    assert result.max_concurrency == 10


def test_an_input_naming_one_store_plans_only_that_store():
    result = plan({"stores": ["acme-eu"], "startDate": "2024-08-01", "endDate": "2024-08-02"}, TWO_STORES)
    assert {w.store for w in result.windows} == {"acme-eu"}
    assert result.max_concurrency == 5


@pytest.mark.parametrize(
    ("stores", "message"),
    [
        (["globex"], "stores: globex is not configured; configured: acme, acme-eu"),
        (["Acme"], "stores: 'Acme' is not a store id"),
        ([], "stores: must not be empty"),
        ("acme", "stores: must be a list"),
    ],
)
def test_an_input_naming_a_store_that_is_not_configured_is_refused_by_name(stores, message):
    with pytest.raises(InvalidExecutionInput) as refused:
        plan({"stores": stores}, TWO_STORES)
    assert message in str(refused.value)


def test_a_store_added_later_fills_its_own_history_from_backfill_from_and_the_others_keep_theirs():
    # given acme landed every day since 2024-08-01, and acme-eu is new
    landed = {
        Series("acme", report_type): {date(2024, 8, d) for d in range(1, 25)}
        for report_type in ("ORDER_FEES", "USER_EVENTS")
    }
    # when the schedule's run asks for yesterday with backfillFrom 2024-08-20
    result = plan(
        {"lookbackDays": 1, "backfillFrom": "2024-08-20", "maxBackfillWindows": 10}, TWO_STORES, landed=landed
    )
    # then acme plans only yesterday, and acme-eu yesterday and its whole history since 2024-08-20
    acme = [(w.report_type, str(w.day)) for w in result.windows if w.store == "acme"]
    new = sorted(str(w.day) for w in result.windows if w.store == "acme-eu")
    assert acme == [("ORDER_FEES", "2024-08-24"), ("USER_EVENTS", "2024-08-24")]
    assert new == ["2024-08-20", "2024-08-21", "2024-08-22", "2024-08-23", "2024-08-24"]
    assert result.backfilled == 4

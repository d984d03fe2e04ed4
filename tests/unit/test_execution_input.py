"""Malformed execution input is refused in Plan windows, before any report task, naming the field."""

from datetime import UTC, date, datetime

import pytest
from bwp.errors import InvalidExecutionInput
from bwp.lake.stores import StoreConfig
from bwp.windows import check_request, parse_request, plan_windows, stores_of

from bwp_lake.cli.execution_input import per_store, refusal

NOW = datetime(2024, 8, 25, 6, 30, tzinfo=UTC)
PROJECTION_START = date(2024, 1, 1)
DAY = {"startDate": "2024-08-01", "endDate": "2024-08-02"}
STORES = (StoreConfig(id="acme", secretId="acme-secret"), StoreConfig(id="globex", secretId="globex-secret"))

MALFORMED = [
    # (execution input, the field the message starts with, what it says about it)
    (None, "execution input", "JSON object, got null"),
    (["ORDER_FEES"], "execution input", "got an array"),
    ("lookbackDays", "execution input", "got a string"),
    (3, "execution input", "got a number"),
    ({"lookbackDays": "3"}, "lookbackDays", 'must be an integer, got "3"'),
    ({"lookbackDays": True}, "lookbackDays", "must be an integer, got true"),
    ({"lookbackDays": 2.0}, "lookbackDays", "must be an integer, got 2.0"),
    ({"lookbackDays": [3]}, "lookbackDays", "must be an integer, got [3]"),
    ({"lookbackDays": None}, "lookbackDays", "must not be null"),
    ({"lookbackDays": 0}, "lookbackDays", "must be at least 1, got 0"),
    ({"lookbackDays": -1}, "lookbackDays", "must be at least 1, got -1"),
    ({"lookbackDays": 401}, "lookbackDays", "must be at most 400, got 401"),
    ({"lookbackDays": 400}, "lookbackDays", "2023-07-22, is before the lake's first day, 2024-01-01"),
    ({"lookbackDays": 3, **DAY}, "lookbackDays", "either lookbackDays or startDate/endDate"),
    ({"maxConcurrency": "5"}, "maxConcurrency", 'must be an integer, got "5"'),
    ({"maxConcurrency": 2.0}, "maxConcurrency", "must be an integer, got 2.0"),
    ({"maxConcurrency": False}, "maxConcurrency", "must be an integer, got false"),
    ({"maxConcurrency": None}, "maxConcurrency", "must not be null"),
    ({"maxConcurrency": 0}, "maxConcurrency", "must be at least 1"),
    ({"maxConcurrency": 6}, "maxConcurrency", "must be at most 5"),
    ({"reportTypes": "ORDER_FEES"}, "reportTypes", 'must be a list, got "ORDER_FEES"'),
    ({"reportTypes": {"ORDER_FEES": True}}, "reportTypes", "must be a list"),
    ({"reportTypes": ["ORDER_FEES", 1]}, "reportTypes.1", "must be a string, got 1"),
    ({"reportTypes": []}, "reportTypes", "must not be empty"),
    ({"reportTypes": None}, "reportTypes", "must not be null"),
    ({"reportTypes": ["order_fees"]}, "reportTypes", "unknown report type 'order_fees'"),
    ({"startDate": 20240801, "endDate": "2024-08-02"}, "startDate", "must be a string, got 20240801"),
    ({"startDate": "2024-08-01", "endDate": None}, "endDate", "must not be null"),
    ({"startDate": "2024-02-30", "endDate": "2024-03-01"}, "startDate", "is not an ISO-8601 date"),
    ({"startDate": "2024-W31-4", "endDate": "2024-08-02"}, "startDate", "is not an ISO-8601 date"),
    ({"startDate": "08/01/2024", "endDate": "2024-08-02"}, "startDate", "is not an ISO-8601 date"),
    ({"startDate": "2024-8-1", "endDate": "2024-08-02"}, "startDate", "is not an ISO-8601 date"),
    ({"startDate": "", "endDate": "2024-08-02"}, "startDate", "is not an ISO-8601 date"),
    ({"startDate": "2024-08-01T00:00:00", "endDate": "2024-08-02"}, "startDate", "has no time zone"),
    ({"startDate": "2024-08-01", "endDate": "9999-12-31T12:00:00Z"}, "endDate", "outside the calendar"),
    ({"endDate": "2024-08-02"}, "startDate", "required when the other date is given"),
    ({"startDate": "2024-08-02", "endDate": "2024-08-01"}, "startDate", "must be before endDate"),
    ({"startDate": "2024-08-25", "endDate": "2024-08-27"}, "endDate", "reaches into the future"),
    ({"startDate": "2023-12-31", "endDate": "2024-01-02"}, "startDate", "is before the lake's first day, 2024-01-01"),
    ({"startDate": "1969-12-31", "endDate": "1970-01-02"}, "startDate", "is before the lake's first day"),
    ({"backfillFrom": "2024-8-1"}, "backfillFrom", 'must be a date string, YYYY-MM-DD, got "2024-8-1"'),
    ({"backfillFrom": "2024-08-01T00:00:00Z"}, "backfillFrom", "must be a date string, YYYY-MM-DD"),
    ({"backfillFrom": 20240801}, "backfillFrom", "must be a date string, YYYY-MM-DD, got 20240801"),
    ({"backfillFrom": "2024-02-30"}, "backfillFrom", "is not a calendar date"),
    ({"backfillFrom": None}, "backfillFrom", "must not be null"),
    ({"backfillFrom": "2023-12-31"}, "backfillFrom", "is before the lake's first day, 2024-01-01"),
    ({"backfillFrom": "2024-08-26"}, "backfillFrom", "is in the future: today is 2024-08-25"),
    ({"maxBackfillWindows": "10"}, "maxBackfillWindows", 'must be an integer, got "10"'),
    ({"maxBackfillWindows": 1.5}, "maxBackfillWindows", "must be an integer, got 1.5"),
    ({"maxBackfillWindows": True}, "maxBackfillWindows", "must be an integer, got true"),
    ({"maxBackfillWindows": -1}, "maxBackfillWindows", "must be at least 0"),
    ({"maxBackfillWindows": 401}, "maxBackfillWindows", "must be at most 400"),
    (
        {"lookback_days": 3},
        "lookback_days",
        "unknown field (known: stores, reportTypes, startDate, endDate, lookbackDays, "
        "maxConcurrency, backfillFrom, maxBackfillWindows)",
    ),
    ({"Comment": "Insert your JSON here"}, "Comment", "unknown field"),
    ({"stores": []}, "stores", "must not be empty"),
    ({"stores": "acme"}, "stores", 'must be a list, got "acme"'),
    ({"stores": ["Acme"]}, "stores", "'Acme' is not a store id"),
    ({"stores": ["acme", "initech"]}, "stores", "initech is not configured; configured: acme, globex"),
    ({"startdate": "2024-08-01", "endDate": "2024-08-02"}, "startdate", "unknown field"),
]


def plan(payload, projection_start=PROJECTION_START):
    request = parse_request(payload)
    return plan_windows(request, check_request(request, NOW, projection_start), stores_of(request, STORES))


@pytest.mark.parametrize(("payload", "field", "says"), MALFORMED)
def test_malformed_input_is_refused_naming_the_field(payload, field, says):
    # when a malformed input is planned
    with pytest.raises(InvalidExecutionInput) as refused:
        plan(payload)
    # then the message starts with the field and says what is wrong with it
    message = str(refused.value)
    assert message.startswith(f"{field}: ") or message.startswith(f"{field} ("), message
    assert says in message


def test_every_malformed_input_of_the_table_is_a_distinct_case():
    assert len({repr(payload) for payload, _, _ in MALFORMED}) == len(MALFORMED) >= 30


def test_every_wrongly_typed_field_is_named_at_once():
    with pytest.raises(InvalidExecutionInput) as refused:
        plan({"lookbackDays": "3", "maxConcurrency": "5"})
    assert str(refused.value) == (
        'lookbackDays: must be an integer, got "3"; maxConcurrency: must be an integer, got "5"'
    )


def test_no_day_before_1970_even_when_the_tables_project_from_earlier():
    with pytest.raises(InvalidExecutionInput, match="startDate: the first day, 1969-12-31, is before 1970-01-01"):
        plan({"startDate": "1969-12-31", "endDate": "1970-01-02"}, projection_start=date(1960, 1, 1))


def test_the_projection_start_itself_may_be_planned():
    result = plan({"startDate": "2024-01-01", "endDate": "2024-01-02", "reportTypes": ["ORDER_FEES"]})
    assert [(w.store, w.day) for w in result.windows] == [("acme", date(2024, 1, 1)), ("globex", date(2024, 1, 1))]


def test_backfill_fields_are_validated_and_read_as_a_day_and_a_count():
    # given the schedule's backfill fields next to a look-back
    request = parse_request({"lookbackDays": 3, "backfillFrom": "2024-01-01", "maxBackfillWindows": 0})
    # then they read as a date and an int, and the planned windows are the look-back's alone
    assert (request.backfill_from, request.max_backfill_windows) == (date(2024, 1, 1), 0)
    assert len(plan({"lookbackDays": 3, "backfillFrom": "2024-08-25", "maxBackfillWindows": 400}).windows) == 2 * 6


def test_without_backfill_fields_there_is_no_backfill():
    request = parse_request({"lookbackDays": 3})
    assert (request.backfill_from, request.max_backfill_windows) == (None, None)


def test_the_cli_starts_one_execution_per_store_named_else_per_configured_store():
    # given a request naming no store, then one naming one
    days = {"startDate": "2024-08-01", "endDate": "2024-08-08"}
    # then it stands for one execution per configured store, each naming its store, as the schedule starts them
    assert per_store(days, ["acme", "globex"]) == [{**days, "stores": ["acme"]}, {**days, "stores": ["globex"]}]
    assert per_store({**days, "stores": ["globex"]}, ["acme", "globex"]) == [{**days, "stores": ["globex"]}]
    # and, where the stores are not known, it is one execution for every configured store
    assert per_store(days, None) == [days]


def test_the_cli_refuses_a_store_that_is_not_configured_naming_the_flag():
    refused = refusal({"stores": ["initech"], **DAY}, PROJECTION_START, NOW, configured=STORES)
    assert refused == (
        "InvalidExecutionInput: stores: initech is not configured; configured: acme, globex (fix --store)"
    )
    assert refusal({"stores": ["acme"], **DAY}, PROJECTION_START, NOW, configured=STORES) is None

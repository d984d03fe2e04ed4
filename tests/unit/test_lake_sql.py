"""The Athena views and named queries on DuckDB over a local lake laid out like the bucket."""

import csv
import gzip
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import boto3
import duckdb
import pyiceberg.table.snapshots
import pytest
from bwp.iceberg.catalog import sql_catalog
from bwp.iceberg.commit import LandedDay, replace_days
from bwp.lake.manifest import duckdb_columns
from bwp.lake.partition import Partition
from bwp.lake.schemas import (
    ORDER_FEES,
    REGISTRY,
    USER_EVENTS,
    ReportSchema,
    column_table,
    schema_for,
)
from bwp.lake.settings import Settings
from bwp.landing.curated import convert
from moto import mock_aws

from bwp_lake.local.engine import BUCKET, REGION
from bwp_lake.local.lake_dir import CATALOG_FILE, LakeDirectory
from bwp_lake.local.lake_sql import LakeSql, format_table

STORE = "shop-a"
OTHER_STORE = "shop-b"
SEED_DAY = "2024-08-22"
NEXT_DAY = "2024-08-23"
SEED_ORDER = "322-ABCD-4TTBJ7"

# The example report of the ORDER_FEES documentation page, verbatim.
SEED_ROWS = [
    [
        SEED_ORDER,
        "P01-1234567-8600527-C066669",
        "S01-1234567-4706047",
        "N/A",
        "2024-08-22T02:17:20Z",
        "2024-08-22T02:17:25Z",
        "ApayProcessingFee",
        "USD",
        "0",
        "1.44",
        "0",
        "0",
        "0",
    ],
    [
        SEED_ORDER,
        "P01-1234567-8600527-C066669",
        "S01-1234567-4706047",
        "N/A",
        "2024-08-22T02:17:20Z",
        "2024-08-22T02:17:25Z",
        "ApayAuthorizationFee",
        "USD",
        "0",
        "0.3",
        "0",
        "0",
        "0",
    ],
    [
        SEED_ORDER,
        "P01-1234567-8600527-C066669",
        "S01-1234567-4706047",
        "N/A",
        "2024-08-22T02:17:20Z",
        "2024-08-22T06:38:11Z",
        "PrimeServiceFee",
        "USD",
        "60",
        "1.23",
        "0",
        "0.15",
        "1.8",
    ],
    [
        SEED_ORDER,
        "P01-1234567-8600527-C066669",
        "S01-1234567-4706047",
        "302199078370301",
        "2024-08-22T02:17:20Z",
        "2024-08-22T06:38:11Z",
        "PrimeFulfillmentFee",
        "USD",
        "0",
        "0",
        "0",
        "0",
        "9.66",
    ],
]
# The next day: milliseconds, a UTC offset, amounts whose float sum is inexact, a zero Prime order amount, an
# undocumented fee type, and values that do not parse.
NEXT_ROWS = [
    [
        "322-EFGH-0000001",
        "P01-1",
        "S01-1",
        "N/A",
        "2024-08-23T10:00:00.250Z",
        "2024-08-23T10:05:00.5Z",
        "PrimeServiceFee",
        "USD",
        "100.10",
        "2.05",
        "0.10",
        "0",
        "0",
    ],
    [
        "322-EFGH-0000001",
        "P01-1",
        "S01-1",
        "N/A",
        "2024-08-23T10:00:00.250Z",
        "2024-08-23T10:05:01Z",
        "ApayProcessingFee",
        "USD",
        "0",
        "0.10",
        "0",
        "0",
        "0",
    ],
    [
        "322-EFGH-0000002",
        "P01-2",
        "S01-2",
        "N/A",
        "2024-08-23T13:00:00+02:00",
        "2024-08-23T11:00:02Z",
        "ApayProcessingFee",
        "USD",
        "0",
        "0.20",
        "abc",
        "0",
        "0",
    ],
    [
        "322-EFGH-0000002",
        "P01-2",
        "S01-2",
        "N/A",
        "2024-08-23T11:00:00Z",
        "2024-08-23T11:00:03Z",
        "PrimeServiceFee",
        "USD",
        "0",
        "0",
        "0",
        "0",
        "0",
    ],
    [
        "322-EFGH-0000003",
        "P01-3",
        "S01-3",
        "",
        "2024-08-23 12:00:00",
        "yesterday",
        "PrimeReturnsFee",
        "EUR",
        "0",
        "0.50",
        "0",
        "0",
        "",
    ],
]
USER_AGENT = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "Quoted", Safari'
EVENT_ROWS = [
    [
        "e1",
        "page-load",
        "2024-08-22T10:00:00.123Z",
        "WEBSITE_CLIENT",
        "1.0",
        "bwp",
        "1",
        "203.0.113.7",
        "ubid-a",
        USER_AGENT,
        "https://shop.example/p/1?a=1,b=2",
        "",
        "SKU-1",
        "2024-08-24T00:00:00Z",
        "product",
    ],
    [
        "e2",
        "page-load",
        "2024-08-22T10:01:00Z",
        "WEBSITE_CLIENT",
        "1.0",
        "bwp",
        "1",
        "203.0.113.8",
        "ubid-b",
        USER_AGENT,
        "https://shop.example/",
        "https://search.example/",
        "",
        "",
        "home",
    ],
    [
        "e3",
        "click",
        "2024-08-22T10:02:00Z",
        "WEBSITE_CLIENT",
        "1.0",
        "bwp",
        "1",
        "203.0.113.7",
        "ubid-a",
        USER_AGENT,
        "https://shop.example/p/1",
        "",
        "SKU-1",
        "",
        "product",
    ],
    [
        "e4",
        "click",
        "2024-08-22T10:03:00Z",
        "WEBSITE_CLIENT",
        "1.0",
        "bwp",
        "1",
        "203.0.113.7",
        "ubid-a",
        USER_AGENT,
        "https://shop.example/p/1",
        "",
        "SKU-1",
        "",
        "product",
    ],
    ["e5", "widget-viewed", "2024-08-22T10:04:00Z", "SERVER_CLIENT", "1.0", "bwp", "1", "", "", "", "", "", "", "", ""],
]
AMOUNTS = ["primeOrderAmount", "feeAmount", "feeTaxAmount", "feeDiscountsAmount", "feeCreditsAmount"]


def write_report(lake, report_type, day, header, rows, store=STORE, task="t"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    partition = Partition(store, report_type, date.fromisoformat(day))
    path = lake / partition.raw_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    # and its typed data file, as the landing writes it, committed to the day's curated table
    data_key = partition.curated_data_key(f"{report_type}:{task}")
    curated = lake / data_key
    curated.parent.mkdir(parents=True, exist_ok=True)
    with curated.open("wb") as sink:
        convert(io.BytesIO(buffer.getvalue().encode()), sink, schema_for(report_type), header)
    commit_in_lake_dir(lake, partition, data_key, task)


def commit_in_lake_dir(lake, partition, data_key, task="t"):
    """A day committed to its table as the twin commits it: the lake directory put into a bucket,
    the commit made there, and the bucket's tables and catalog copied back."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        directory = LakeDirectory(lake, s3, BUCKET)
        directory.load_into_bucket()
        catalog = sql_catalog(lake / CATALOG_FILE, s3, namespace=Settings.default_of("catalog_database"), bucket=BUCKET)
        day = LandedDay(partition.store, partition.day, task_id=task, raw_sha256="0" * 64, data_keys=(data_key,))
        replace_days(catalog, partition.report_type, [day])
        directory.export_commit(lake / CATALOG_FILE)


def write_manifest(lake, report_type, day, rows, drift=None, store=STORE):
    manifest = {
        "store": store,
        "reportType": report_type,
        "day": day,
        "taskId": f"{report_type}:t",
        "rows": rows,
        "bytesIn": 100,
        "bytesOut": 40,
        "drift": drift,
        "landedAt": f"{day}T23:59:00Z",
    }
    path = lake / Partition(store, report_type, date.fromisoformat(day)).manifest_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest) + "\n")


def records(result):
    columns, rows = result
    return [dict(zip(columns, row, strict=True)) for row in rows]


def amount(text):
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def fee_lines():
    """The landed fee rows as dicts with the report's own names, tagged with their day."""
    return [
        {"day": day, **dict(zip(ORDER_FEES.column_names, row, strict=True))}
        for day, rows in ((SEED_DAY, SEED_ROWS), (NEXT_DAY, NEXT_ROWS))
        for row in rows
    ]


def sql_sum(values):
    present = [value for value in values if value is not None]
    return sum(present, Decimal(0)) if present else None


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS)
    write_report(root, "ORDER_FEES", NEXT_DAY, ORDER_FEES.column_names, NEXT_ROWS)
    write_report(root, "USER_EVENTS", SEED_DAY, USER_EVENTS.column_names, EVENT_ROWS)
    with LakeSql(root) as opened:
        yield opened


def test_daily_fees_by_fee_type_equal_sums_computed_from_the_rows(lake):
    # given the rows written to the lake, grouped and summed in Python
    groups = defaultdict(list)
    for line in fee_lines():
        groups[(date.fromisoformat(line["day"]), line["feeType"], line["currencyCode"])].append(line)
    expected = {
        key: (len(lines), *(sql_sum(amount(line[name]) for line in lines) for name in AMOUNTS[1:]))
        for key, lines in groups.items()
    }
    # when the named query runs
    result = records(lake.run_named("daily_fees_by_fee_type"))
    # then each day, fee type and currency has the same count and exact sums
    actual = {
        (r["report_date"], r["fee_type"], r["currency_code"]): (
            r["fee_lines"],
            r["fee_amount"],
            r["fee_tax_amount"],
            r["fee_discounts_amount"],
            r["fee_credits_amount"],
        )
        for r in result
    }
    assert actual == expected
    assert [(r["report_date"], r["fee_type"]) for r in result] == sorted(
        (r["report_date"], r["fee_type"]) for r in result
    )


def test_amounts_are_exact_decimals(lake):
    # given two processing fees of 0.10 and 0.20 on the next day (0.30000000000000004 as floats)
    _, rows = lake.query(
        "SELECT sum(fee_amount), typeof(sum(fee_amount)) FROM order_fees "
        "WHERE dt = ? AND fee_type = 'ApayProcessingFee'",
        [NEXT_DAY],
    )
    # then the sum is exactly 0.30, a decimal with two places
    assert rows == [(Decimal("0.30"), "DECIMAL(38,2)")]
    assert str(rows[0][0]) == "0.30"
    _, typed = lake.query("SELECT DISTINCT typeof(fee_amount) FROM order_fees")
    assert typed == [("DECIMAL(18,2)",)]


def test_reconciliation_of_the_seed_order(lake):
    # given the seed order's fee lines, totalled per fee type in Python
    lines = [line for line in fee_lines() if line["orderId"] == SEED_ORDER]
    per_type = defaultdict(Decimal)
    for line in lines:
        per_type[line["feeType"]] += Decimal(line["feeAmount"])
    # when the reconciliation runs
    orders = records(lake.run_named("order_fee_reconciliation"))
    order = next(r for r in orders if r["order_id"] == SEED_ORDER)
    # then the fee totals match, and the effective Prime service fee rate is fee / Prime order amount
    assert order["prime_order_amount"] == Decimal("60")
    assert order["prime_service_fee"] == per_type["PrimeServiceFee"]
    assert order["prime_fulfillment_fee"] == per_type["PrimeFulfillmentFee"]
    assert order["apay_processing_fee"] == per_type["ApayProcessingFee"]
    assert order["apay_authorization_fee"] == per_type["ApayAuthorizationFee"]
    assert order["apay_cross_border_fee"] is None and order["other_fees"] is None
    assert order["total_fees"] == sum(per_type.values())
    assert order["effective_prime_service_fee_rate"] == pytest.approx(1.23 / 60)
    assert order["order_created_at"] == datetime(2024, 8, 22, 2, 17, 20)


def test_reconciliation_guards_a_zero_prime_order_amount_and_keeps_columns_adding_up(lake):
    orders = {r["order_id"]: r for r in records(lake.run_named("order_fee_reconciliation"))}
    # given an order whose Prime order amount is 0: no rate rather than a division error
    assert orders["322-EFGH-0000002"]["prime_order_amount"] == Decimal("0")
    assert orders["322-EFGH-0000002"]["effective_prime_service_fee_rate"] is None
    assert orders["322-EFGH-0000001"]["effective_prime_service_fee_rate"] == pytest.approx(2.05 / 100.10)
    # and an undocumented fee type lands in other_fees
    assert orders["322-EFGH-0000003"]["other_fees"] == Decimal("0.50")
    fee_columns = [
        "prime_service_fee",
        "prime_fulfillment_fee",
        "apay_processing_fee",
        "apay_authorization_fee",
        "apay_cross_border_fee",
        "other_fees",
    ]
    for order in orders.values():
        assert sum(order[c] for c in fee_columns if order[c] is not None) == order["total_fees"]


def test_na_and_empty_text_are_null_in_the_view_and_kept_in_raw(lake):
    _, typed = lake.query(
        "SELECT fee_type, selling_partner_fba_shipment_id FROM order_fees WHERE order_id = ? ORDER BY fee_type",
        [SEED_ORDER],
    )
    assert typed == [
        ("ApayAuthorizationFee", None),
        ("ApayProcessingFee", None),
        ("PrimeFulfillmentFee", "302199078370301"),
        ("PrimeServiceFee", None),
    ]
    _, raw = lake.query("SELECT count(*) FROM order_fees_raw WHERE sellingpartnerfbashipmentid = 'N/A'")
    assert raw == [(sum(1 for line in fee_lines() if line["sellingPartnerFbaShipmentId"] == "N/A"),)]
    _, empty = lake.query("SELECT selling_partner_fba_shipment_id FROM order_fees WHERE order_id = '322-EFGH-0000003'")
    assert empty == [(None,)]


def test_timestamps_parse_with_and_without_milliseconds_as_utc(lake):
    _, rows = lake.query(
        "SELECT order_created_at, fee_charged_at, typeof(fee_charged_at) FROM order_fees "
        "WHERE order_id = '322-EFGH-0000001' ORDER BY fee_charged_at"
    )
    assert rows == [
        (datetime(2024, 8, 23, 10, 0, 0, 250000), datetime(2024, 8, 23, 10, 5, 0, 500000), "TIMESTAMP"),
        (datetime(2024, 8, 23, 10, 0, 0, 250000), datetime(2024, 8, 23, 10, 5, 1), "TIMESTAMP"),
    ]


def test_values_that_do_not_parse_become_null_instead_of_failing_the_query(lake):
    # given a tax amount 'abc', a timestamp 'yesterday' and one with a space instead of 'T' (not
    # ISO-8601: Athena's from_iso8601_timestamp refuses it)
    _, rows = lake.query(
        "SELECT order_id, fee_tax_amount, order_created_at, fee_charged_at, fee_credits_amount "
        "FROM order_fees "
        "WHERE order_id IN ('322-EFGH-0000002', '322-EFGH-0000003') AND fee_type <> 'PrimeServiceFee' "
        "ORDER BY order_id"
    )
    # then those cells are NULL and the rest of the row is there (13:00+02:00 read as 11:00 UTC)
    assert rows == [
        ("322-EFGH-0000002", None, datetime(2024, 8, 23, 11), datetime(2024, 8, 23, 11, 0, 2), Decimal("0")),
        ("322-EFGH-0000003", Decimal("0"), None, None, None),
    ]
    _, raw = lake.query("SELECT feetaxamount FROM order_fees_raw WHERE feetaxamount = 'abc'")
    assert raw == [("abc",)]


def test_user_agent_with_commas_and_quotes_round_trips(lake):
    _, rows = lake.query("SELECT DISTINCT user_agent FROM user_events WHERE user_agent IS NOT NULL")
    assert rows == [(USER_AGENT,)]
    _, urls = lake.query("SELECT current_url FROM user_events WHERE event_id = 'e1'")
    assert urls == [("https://shop.example/p/1?a=1,b=2",)]


def test_daily_events_by_type_count_events_and_distinct_browsers(lake):
    # given the events grouped in Python (an empty ubid is no browser)
    expected = defaultdict(lambda: [0, set()])
    for row in EVENT_ROWS:
        event = dict(zip(USER_EVENTS.column_names, row, strict=True))
        group = expected[(date.fromisoformat(SEED_DAY), event["eventType"])]
        group[0] += 1
        group[1] |= {event["ubid"]} - {""}
    # when the named query runs, then it agrees
    result = records(lake.run_named("daily_events_by_type"))
    assert {(r["report_date"], r["event_type"]): (r["events"], r["distinct_ubids"]) for r in result} == {
        key: (count, len(ubids)) for key, (count, ubids) in expected.items()
    }


def test_event_times_and_promise_timestamps_are_typed(lake):
    _, rows = lake.query("SELECT event_time, prime_promise_timestamp FROM user_events WHERE event_id = 'e1'")
    assert rows == [(datetime(2024, 8, 22, 10, 0, 0, 123000), datetime(2024, 8, 24))]


def test_a_report_type_with_no_files_has_zero_rows_and_its_query_still_runs(tmp_path):
    # given a lake where only ORDER_FEES has landed
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS)
    with LakeSql(tmp_path) as lake:
        # then USER_EVENTS has its typed columns and no rows
        columns, rows = lake.query("SELECT * FROM user_events")
        assert rows == [] and "event_time" in columns
        columns, rows = lake.run_named("daily_events_by_type")
        assert rows == [] and columns == ["store", "report_date", "event_type", "events", "distinct_ubids"]
        # and ORDER_FEES still answers
        assert lake.query("SELECT count(*) FROM order_fees")[1] == [(len(SEED_ROWS),)]


def test_an_empty_lake_opens_with_no_rows_anywhere(tmp_path):
    with LakeSql(tmp_path / "missing") as lake:
        assert lake.partitions()[1] == []
        for schema in REGISTRY.values():
            assert lake.query(f"SELECT count(*) FROM {schema.view_name}")[1] == [(0,)]


def test_files_duckdb_cannot_read_are_left_out_named_and_every_other_day_stays_queryable(tmp_path, caplog):
    # given two good days and a third raw file with Latin-1 text (as a failed landing used to leave)
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS)
    write_report(tmp_path, "ORDER_FEES", NEXT_DAY, ORDER_FEES.column_names, NEXT_ROWS)
    bad_day = Partition(STORE, "ORDER_FEES", date.fromisoformat("2024-08-24"))
    bad_raw = tmp_path / bad_day.raw_key
    bad_raw.parent.mkdir(parents=True)
    header = ",".join(ORDER_FEES.column_names).encode()
    bad_raw.write_bytes(gzip.compress(header + b"\n322-X,caf\xe9" + b",1" * 11 + b"\n"))
    # when the lake opens
    with LakeSql(tmp_path) as lake:
        raw = lake.query("SELECT dt, count(*) FROM order_fees_raw GROUP BY dt ORDER BY dt")[1]
        typed = lake.query("SELECT CAST(dt AS VARCHAR), count(*) FROM order_fees GROUP BY dt ORDER BY dt")[1]
        named = lake.run_named("daily_fees_by_fee_type")[1]
        unreadable = lake.unreadable
    # then the good days answer, in the raw table, the view and a named query
    assert raw == typed == [(SEED_DAY, len(SEED_ROWS)), (NEXT_DAY, len(NEXT_ROWS))]
    assert named
    # and the bad file is named, with DuckDB's reason, in the lake's list and a warning
    assert [line.split(": ", 1)[0] for line in unreadable] == [str(bad_raw)]
    assert "unicode" in unreadable[0].lower()
    assert str(bad_raw) in caplog.text


def test_a_drifted_header_is_matched_by_name_and_a_renamed_column_reads_null(tmp_path):
    # given a normal day, and a day whose file renamed feeType and inserted a column before feeAmount
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS)
    drifted = [("feeCategory" if name == "feeType" else name) for name in ORDER_FEES.column_names]
    drifted.insert(drifted.index("feeAmount"), "feeNote")
    drifted_rows = [row[:9] + ["a note, with a comma"] + row[9:] for row in NEXT_ROWS]
    write_report(tmp_path, "ORDER_FEES", NEXT_DAY, drifted, drifted_rows)
    with LakeSql(tmp_path) as lake:
        _, rows = lake.query(
            "SELECT CAST(dt AS VARCHAR), count(*), count(fee_type), sum(fee_amount) "
            "FROM order_fees GROUP BY dt ORDER BY dt"
        )
        # and the inserted column is a column of the curated table, set on its day alone
        notes = lake.query("SELECT CAST(dt AS VARCHAR), extra_fee_note FROM order_fees_curated ORDER BY dt")[1]
    # then both days are queryable; the renamed column is NULL on the drifted day, the others keep
    # their values despite the shifted position
    assert rows == [
        (SEED_DAY, len(SEED_ROWS), len(SEED_ROWS), sql_sum(amount(row[9]) for row in SEED_ROWS)),
        (NEXT_DAY, len(NEXT_ROWS), 0, sql_sum(amount(row[9]) for row in NEXT_ROWS)),
    ]
    assert notes == [(SEED_DAY, None)] * len(SEED_ROWS) + [(NEXT_DAY, "a note, with a comma")] * len(NEXT_ROWS)


def test_a_registry_column_missing_from_every_file_reads_null(tmp_path):
    # given only drifted files, so no file at all has feeType
    header = [("feeCategory" if name == "feeType" else name) for name in ORDER_FEES.column_names]
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, header, SEED_ROWS)
    with LakeSql(tmp_path) as lake:
        _, rows = lake.query("SELECT count(*), count(fee_type), count(fee_amount) FROM order_fees")
    assert rows == [(len(SEED_ROWS), 0, len(SEED_ROWS))]


def test_a_new_registry_type_is_queryable_without_sql_edits(tmp_path, monkeypatch):
    # given a report type added to the registry only
    returns = ReportSchema(
        report_type="RETURNS",
        provisional=True,
        columns=column_table("""
            returnId      STRING
            returnedAt    TIMESTAMP
            refundAmount  DECIMAL
            units         INTEGER
        """),
    )
    monkeypatch.setitem(REGISTRY, "RETURNS", returns)
    rows = [["r1", "2024-08-22T08:00:00Z", "12.5", "2"], ["r2", "2024-08-22T09:00:00.001Z", "x", "two"]]
    write_report(tmp_path, "RETURNS", SEED_DAY, returns.column_names, rows)
    # when the lake opens, then it has a typed view for it
    with LakeSql(tmp_path) as lake:
        _, rows = lake.query(
            "SELECT return_id, returned_at, refund_amount, units, report_date FROM returns ORDER BY return_id"
        )
    assert rows == [
        ("r1", datetime(2024, 8, 22, 8), Decimal("12.50"), 2, date(2024, 8, 22)),
        ("r2", datetime(2024, 8, 22, 9, 0, 0, 1000), None, None, date(2024, 8, 22)),
    ]


def test_partitions_come_from_the_manifests(tmp_path):
    # given two landed days, the second with header drift
    drift = {"missing": ["feeType"], "unexpected": ["feeCategory"]}
    write_manifest(tmp_path, "ORDER_FEES", NEXT_DAY, rows=5, drift=drift)
    write_manifest(tmp_path, "ORDER_FEES", SEED_DAY, rows=4)
    with LakeSql(tmp_path) as lake:
        result = records(lake.partitions())
    # then there is one row per day, in order, with the drift readable
    assert [(r["store"], r["report_type"], r["day"], r["rows"], r["bytes_out"]) for r in result] == [
        (STORE, "ORDER_FEES", SEED_DAY, 4, 40),
        (STORE, "ORDER_FEES", NEXT_DAY, 5, 40),
    ]
    assert result[0]["drift"] is None
    assert json.loads(result[1]["drift"]) == drift


def test_the_manifests_view_has_every_manifest_field_before_and_after_a_manifest_lands(tmp_path):
    # given a lake without manifests, when its manifests view is described
    with LakeSql(tmp_path) as lake:
        empty, _ = lake.query("SELECT * FROM manifests")
    # then it has the store and the report type (its partition keys) and every other field of the manifest model
    assert empty == ["store", "report_type", *(name for name, _ in duckdb_columns() if name != "store")]
    # given a manifest written before the task and timings fields existed
    write_manifest(tmp_path, "ORDER_FEES", SEED_DAY, rows=4)
    # when the fields it lacks are queried, nested ones included, then they read as NULL
    with LakeSql(tmp_path) as lake:
        _, rows = lake.query('SELECT "rows", task.startedBy, timings.polls, curated.rowGroups FROM manifests')
    assert rows == [(4, None, None, None)]


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory):
    """The seed day's fees landed for two stores: the same order id in each, other amounts in the second."""
    root = tmp_path_factory.mktemp("two-stores")
    doubled = [row[:9] + [str(Decimal(row[9]) * 2)] + row[10:] for row in SEED_ROWS]
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS, store=STORE)
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, doubled, store=OTHER_STORE)
    write_report(root, "USER_EVENTS", SEED_DAY, USER_EVENTS.column_names, EVENT_ROWS[:2], store=OTHER_STORE)
    write_manifest(root, "ORDER_FEES", SEED_DAY, rows=len(SEED_ROWS), store=STORE)
    write_manifest(root, "ORDER_FEES", SEED_DAY, rows=len(doubled), store=OTHER_STORE)
    with LakeSql(root) as opened:
        yield opened, doubled


def test_every_table_and_view_says_which_store_each_row_came_from(two_stores):
    lake, doubled = two_stores
    # given two stores' files of the same day, when each table is counted per store
    for table in ("order_fees_raw", "order_fees_curated", "order_fees"):
        counts = lake.query(
            f"SELECT store, CAST(dt AS VARCHAR), count(*) FROM {table} GROUP BY store, dt ORDER BY store"
        )[1]
        # then the store comes from the folder each file is in
        assert counts == [(STORE, SEED_DAY, len(SEED_ROWS)), (OTHER_STORE, SEED_DAY, len(doubled))], table
    assert lake.query("SELECT DISTINCT store FROM user_events")[1] == [(OTHER_STORE,)]
    assert [(r["store"], r["day"]) for r in records(lake.partitions())] == [(STORE, SEED_DAY), (OTHER_STORE, SEED_DAY)]


def test_the_named_queries_aggregate_each_store_apart(two_stores):
    lake, _ = two_stores
    # given the same order id in both stores, the second's fees twice the first's
    fees = records(lake.run_named("daily_fees_by_fee_type"))
    # when the fees are summed per store, then each store has its own lines and sums
    for store, factor in ((STORE, 1), (OTHER_STORE, 2)):
        mine = {r["fee_type"]: (r["fee_lines"], r["fee_amount"]) for r in fees if r["store"] == store}
        assert mine == {row[6]: (1, Decimal(row[9]) * factor) for row in SEED_ROWS}, store
    # and the reconciliation has the order once per store, never the two stores' lines together
    orders = [r for r in records(lake.run_named("order_fee_reconciliation")) if r["order_id"] == SEED_ORDER]
    assert [(r["store"], r["total_fees"]) for r in orders] == [
        (STORE, sum(Decimal(row[9]) for row in SEED_ROWS)),
        (OTHER_STORE, 2 * sum(Decimal(row[9]) for row in SEED_ROWS)),
    ]
    events = records(lake.run_named("daily_events_by_type"))
    assert {(r["store"], r["event_type"]) for r in events} == {(OTHER_STORE, "page-load")}


@pytest.fixture
def restated(tmp_path, monkeypatch):
    """Two days of fees committed two days ago, then the first restated now with one line fewer."""
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    with monkeypatch.context() as dated:
        # snapshots take their time from pyiceberg's clock: these two commits are dated two days back
        dated.setattr(pyiceberg.table.snapshots, "time", SimpleNamespace(time=two_days_ago.timestamp))
        write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS)
        write_report(tmp_path, "ORDER_FEES", NEXT_DAY, ORDER_FEES.column_names, NEXT_ROWS)
    write_report(tmp_path, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS[1:], task="again")
    return tmp_path, two_days_ago


def test_the_restated_days_query_shows_a_day_as_it_was_before_its_restatement(restated):
    lake, _ = restated
    # when the named query runs, as it runs on Athena, on the lake where a day was restated today
    with LakeSql(lake) as opened:
        result = records(opened.run_named("daily_fees_restated"))
    # then the restated day is shown as it was a day ago and as it is, the day left alone is not
    seed_fees = sql_sum(amount(row[9]) for row in SEED_ROWS)
    assert result == [
        {
            "store": STORE,
            "dt": date.fromisoformat(SEED_DAY),
            "fee_lines_before": 4,
            "fee_lines_now": 3,
            "fee_amount_before": seed_fees,
            "fee_amount_now": seed_fees - amount(SEED_ROWS[0][9]),
        }
    ]


def test_a_curated_table_reads_as_of_an_instant_with_athenas_time_travel_clause(restated):
    lake, two_days_ago = restated
    before = (two_days_ago + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    count_at = "SELECT count(*) FROM bwp_report_lake.order_fees_curated FOR TIMESTAMP AS OF {} WHERE dt = DATE '{}'"
    with LakeSql(lake) as opened:
        # when the table is read at an instant between the first commits and the restatement, and now
        then = opened.query(count_at.format(f"TIMESTAMP '{before} UTC'", SEED_DAY))[1]
        in_parentheses = opened.query(count_at.format(f"(TIMESTAMP '{before}' + INTERVAL '0' DAY)", SEED_DAY))[1]
        now = opened.query("SELECT count(*) FROM order_fees_curated WHERE dt = ?", [date.fromisoformat(SEED_DAY)])[1]
        # and before the table had a snapshot
        empty = opened.query(count_at.format("(current_timestamp - INTERVAL '3' DAY)", SEED_DAY))[1]
        # then each reads the snapshot that was current then
        assert (then, in_parentheses, now, empty) == ([(4,)], [(4,)], [(3,)], [(0,)])
        # and a table that is not a curated one is refused, naming the curated ones
        with pytest.raises(duckdb.InvalidInputException, match="order_fees_curated"):
            opened.query("SELECT * FROM manifests FOR TIMESTAMP AS OF (current_timestamp)")


def test_unknown_named_query_is_refused(lake):
    from bwp_lake import athena

    with pytest.raises(athena.UnknownNamedQuery):
        lake.run_named("fees_by_moon_phase")


def test_format_table_aligns_marks_nulls_and_cuts():
    columns = ["order_id", "fee_amount"]
    rows = [("a", Decimal("1.44")), ("bbbbbb", None), ("c" * 100, Decimal("10.00"))]
    lines = format_table(columns, rows, max_rows=2).splitlines()
    assert lines[0].split() == columns
    # numbers are right-aligned: every line ends in the same column
    assert lines[2].endswith("1.44") and lines[3].endswith("NULL")
    assert len({len(line) for line in lines[:4]}) == 1
    assert lines[-1] == "... 1 more of 3 rows"
    long_cell = format_table(columns, rows[2:]).splitlines()[2].split()[0]
    assert long_cell.endswith("...") and len(long_cell) < 100
    assert format_table(columns, []).splitlines()[-1] == "(no rows)"

"""Report content: the documented columns and rows, RFC 4180 CSV, and bytes fixed by (seed, type, day)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bwp_lake.emulator import reports
from bwp_lake.emulator.columns import Column, Draw, Drawn, Groups, Key, ReportType, Row, RowKey, Stamp
from bwp_lake.emulator.report_types import REPORTS
from bwp_lake.emulator.reports import ReportSpec, report_bytes, report_length, stream
from tests.emulator.support import SHIPMENTS

DAY = date(2024, 8, 22)
MIDNIGHT = datetime(2024, 8, 22, tzinfo=UTC)

# The ORDER_FEES page: the field table and the example report, as documented
DOCUMENTED_ORDER_FEES_COLUMNS = [
    "orderId",
    "paymentId",
    "sellingPartnerFbaOrderId",
    "sellingPartnerFbaShipmentId",
    "orderCreatedAt",
    "feeChargedAt",
    "feeType",
    "currencyCode",
    "primeOrderAmount",
    "feeAmount",
    "feeTaxAmount",
    "feeDiscountsAmount",
    "feeCreditsAmount",
]
SEED_EXAMPLE = """\
322-ABCD-4TTBJ7,P01-1234567-8600527-C066669,S01-1234567-4706047,N/A,2024-08-22T02:17:20Z,2024-08-22T02:17:25Z,ApayProcessingFee,USD,0,1.44,0,0,0
322-ABCD-4TTBJ7,P01-1234567-8600527-C066669,S01-1234567-4706047,N/A,2024-08-22T02:17:20Z,2024-08-22T02:17:25Z,ApayAuthorizationFee,USD,0,0.3,0,0,0
322-ABCD-4TTBJ7,P01-1234567-8600527-C066669,S01-1234567-4706047,N/A,2024-08-22T02:17:20Z,2024-08-22T06:38:11Z,PrimeServiceFee,USD,60,1.23,0,0.15,1.8
322-ABCD-4TTBJ7,P01-1234567-8600527-C066669,S01-1234567-4706047,302199078370301,2024-08-22T02:17:20Z,2024-08-22T06:38:11Z,PrimeFulfillmentFee,USD,0,0,0,0,9.66
"""  # noqa: E501 (the documentation's rows, unwrapped)
# The documented sendUserEvents fields, in the registry's (provisional) order
PROVISIONAL_USER_EVENTS_COLUMNS = [
    "eventId",
    "eventType",
    "eventTime",
    "clientType",
    "clientVersion",
    "schemaName",
    "schemaVersion",
    "ip",
    "ubid",
    "userAgent",
    "currentUrl",
    "referrer",
    "product_sku",
    "prime_promise_timestamp",
    "page_type",
]
EVENT_TYPES = {"page-load", "click", "widget-viewed", "bwp-widget-promise-loaded"}
AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")
SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def one_day(report_type: str, rows: int = 400, day: date = DAY, seed: int = 7) -> bytes:
    return b"".join(report_bytes(report_type, day, seed, rows))


def window(report_type: str, start: datetime, end: datetime, rows: int = 400, **options) -> ReportSpec:
    return ReportSpec(report_type, start, end, 7, rows, **options)


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def dict_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def check_order_fee_orders(rows: list[dict[str, str]], start: datetime, end: datetime) -> int:
    """The documented example's rules; returns the number of orders."""
    orders: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        orders[row["orderId"]].append(row)
        assert re.fullmatch(r"\d{3}-[A-Z]{4}-[0-9A-Z]{6}", row["orderId"])
        assert re.fullmatch(r"P01-\d{7}-\d{7}-C\d{6}", row["paymentId"])
        assert re.fullmatch(r"S01-\d{7}-\d{7}", row["sellingPartnerFbaOrderId"])
        assert row["currencyCode"] == "USD"
        for name in ("primeOrderAmount", "feeAmount", "feeTaxAmount", "feeDiscountsAmount", "feeCreditsAmount"):
            assert AMOUNT.match(row[name]), (name, row[name])
        assert SECONDS.match(row["orderCreatedAt"]) and SECONDS.match(row["feeChargedAt"])
        created, charged = datetime.fromisoformat(row["orderCreatedAt"]), datetime.fromisoformat(row["feeChargedAt"])
        assert start <= created <= charged < end
        is_fulfillment = row["feeType"] == "PrimeFulfillmentFee"
        assert (
            re.fullmatch(r"\d{15}", row["sellingPartnerFbaShipmentId"])
            if is_fulfillment
            else row["sellingPartnerFbaShipmentId"] == "N/A"
        )
        assert (float(row["primeOrderAmount"]) > 0) == (row["feeType"] == "PrimeServiceFee")
    for order in orders.values():
        fee_types = [row["feeType"] for row in order]
        for once in ("ApayProcessingFee", "ApayAuthorizationFee", "PrimeServiceFee"):
            assert fee_types.count(once) == 1, fee_types
        assert fee_types.count("PrimeFulfillmentFee") >= 1
        assert set(fee_types) <= {
            "ApayProcessingFee",
            "ApayAuthorizationFee",
            "ApayCrossBorderFee",
            "PrimeServiceFee",
            "PrimeFulfillmentFee",
        }
        assert len({(row["paymentId"], row["orderCreatedAt"]) for row in order}) == 1
    return len(orders)


def test_the_checker_accepts_the_documented_example():
    # given the documentation's example rows, then the rules the generated rows are held to hold for them
    rows = list(csv.DictReader(io.StringIO(",".join(DOCUMENTED_ORDER_FEES_COLUMNS) + "\n" + SEED_EXAMPLE)))
    assert check_order_fee_orders(rows, MIDNIGHT, MIDNIGHT + timedelta(days=1)) == 1


def test_order_fees_has_the_documented_columns_in_the_documented_order():
    assert read(one_day("ORDER_FEES"))[0] == DOCUMENTED_ORDER_FEES_COLUMNS


def test_user_events_has_the_provisional_columns_defined_in_one_place():
    assert read(one_day("USER_EVENTS"))[0] == PROVISIONAL_USER_EVENTS_COLUMNS
    assert reports.columns("USER_EVENTS") == tuple(PROVISIONAL_USER_EVENTS_COLUMNS)


@pytest.mark.parametrize("report_type", list(REPORTS))
@pytest.mark.parametrize("rows", [0, 1, 3, 4, 5, 9, 10, 11, 397, 2001])
def test_a_day_has_exactly_rows_per_day_rows_of_full_width(report_type, rows):
    parsed = read(one_day(report_type, rows))
    assert len(parsed) == 1 + rows
    assert {len(row) for row in parsed} == {len(parsed[0])}


@pytest.mark.parametrize("rows", [4, 11, 2000])
def test_order_fee_rows_follow_the_documented_example(rows):
    # when a day of ORDER_FEES is generated, then every order looks like the documentation's one
    orders = check_order_fee_orders(dict_rows(one_day("ORDER_FEES", rows)), MIDNIGHT, MIDNIGHT + timedelta(days=1))
    assert orders >= rows // 10


def test_order_fees_include_cross_border_fees_and_multi_shipment_orders():
    rows = dict_rows(one_day("ORDER_FEES", 2000))
    assert any(row["feeType"] == "ApayCrossBorderFee" for row in rows)
    shipments = defaultdict(set)
    for row in rows:
        if row["feeType"] == "PrimeFulfillmentFee":
            shipments[row["orderId"]].add(row["sellingPartnerFbaShipmentId"])
    assert max(len(ids) for ids in shipments.values()) >= 2


def test_order_rows_are_contiguous_and_order_ids_unique_across_days():
    spec = window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=3), rows=2000)
    rows = dict_rows(b"".join(stream(spec)))
    order_ids = [row["orderId"] for row in rows]
    runs = [order_id for index, order_id in enumerate(order_ids) if index == 0 or order_ids[index - 1] != order_id]
    assert len(runs) == len(set(runs))  # each order's fees sit together, and no order appears twice
    assert len({row["paymentId"] for row in rows}) == len(runs)


def test_user_event_rows_use_the_documented_event_fields():
    start, end = MIDNIGHT, MIDNIGHT + timedelta(days=1)
    rows = dict_rows(one_day("USER_EVENTS", 3000))
    ids = [uuid.UUID(row["eventId"]) for row in rows]
    assert len(set(ids)) == len(ids) and {event_id.version for event_id in ids} == {4}
    assert {row["eventType"] for row in rows} == EVENT_TYPES
    assert {row["clientType"] for row in rows} == {"WEBSITE_CLIENT", "SERVER_CLIENT"}
    times = [row["eventTime"] for row in rows]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", value) for value in times)
    assert times == sorted(times)
    assert start <= datetime.fromisoformat(times[0]) and datetime.fromisoformat(times[-1]) < end
    for row in rows:
        promised = row["prime_promise_timestamp"]
        assert bool(promised) == (row["eventType"] == "bwp-widget-promise-loaded")
        assert not promised or datetime.fromisoformat(promised) > datetime.fromisoformat(row["eventTime"])
        assert row["currentUrl"].startswith("https://")


def test_values_with_commas_or_quotes_are_quoted_as_rfc_4180_says():
    data = one_day("USER_EVENTS", 3000)
    rows = dict_rows(data)
    with_comma = next(row["userAgent"] for row in rows if "," in row["userAgent"])
    with_quote = next(row["userAgent"] for row in rows if '"' in row["userAgent"])
    url_with_comma = next(row["currentUrl"] for row in rows if "," in row["currentUrl"])
    text = data.decode()
    assert f',"{with_comma}",' in text
    assert ',"' + with_quote.replace('"', '""') + '",' in text
    assert f'"{url_with_comma}"' in text
    assert all(len(row) == len(PROVISIONAL_USER_EVENTS_COLUMNS) for row in read(data))


@pytest.mark.parametrize("report_type", list(REPORTS))
def test_the_same_seed_type_and_day_always_give_the_same_bytes(report_type):
    header = reports.header_line(report_type).encode()
    assert one_day(report_type) == one_day(report_type)
    assert one_day(report_type) != one_day(report_type, seed=8)
    next_day = one_day(report_type, day=DAY + timedelta(days=1))
    assert set(one_day(report_type).removeprefix(header).splitlines()).isdisjoint(next_day.splitlines())


def test_the_bytes_do_not_depend_on_the_process():
    # given another interpreter with another hash seed, when it generates the same day, then the bytes match
    program = (
        "import hashlib, sys; from datetime import date; from bwp_lake.emulator.reports import report_bytes; "
        "h = hashlib.sha256(); [h.update(c) for c in report_bytes('USER_EVENTS', date(2024, 8, 22), 7, 300)]; "
        "print(h.hexdigest())"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.getcwd()}
    output = subprocess.run(
        [sys.executable, "-c", program], env=environment, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert output == hashlib.sha256(one_day("USER_EVENTS", 300)).hexdigest()


@pytest.mark.parametrize("report_type", list(REPORTS))
def test_a_multi_day_window_is_the_header_then_each_days_rows(report_type):
    days = [one_day(report_type, day=DAY + timedelta(days=offset)) for offset in range(3)]
    header = reports.header_line(report_type).encode()
    served = b"".join(stream(window(report_type, MIDNIGHT, MIDNIGHT + timedelta(days=3))))
    assert served == header + b"".join(day.removeprefix(header) for day in days)


@pytest.mark.parametrize("report_type", list(REPORTS))
def test_a_partial_window_keeps_the_rows_inside_it(report_type):
    # given a window from 05:30 to 01:00 the next day
    start, end = MIDNIGHT + timedelta(hours=5, minutes=30), MIDNIGHT + timedelta(days=1, hours=1)
    rows = dict_rows(b"".join(stream(window(report_type, start, end, rows=1000))))
    assert rows
    if report_type == "ORDER_FEES":
        check_order_fee_orders(rows, start, end)
    else:
        assert all(start <= datetime.fromisoformat(row["eventTime"]) < end for row in rows)
    # and they are the full days' rows for the units created in the window
    key = reports.columns(report_type)[0]
    full_days = [dict_rows(one_day(report_type, 1000, DAY + timedelta(days=day))) for day in range(2)]
    assert {row[key] for row in rows} <= {row[key] for day in full_days for row in day}


SPECS = [
    window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=2)),
    window("USER_EVENTS", MIDNIGHT + timedelta(hours=7, milliseconds=1), MIDNIGHT + timedelta(days=1, hours=2)),
    window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=1), header_drift="add"),
    window("USER_EVENTS", MIDNIGHT, MIDNIGHT + timedelta(days=1), header_drift="rename"),
    window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=1), gzip=True),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.report_type}-{spec.header_drift}-{spec.gzip}")
def test_the_length_is_known_before_generating_and_any_offset_resumes_exactly(spec):
    data = b"".join(stream(spec))
    assert report_length(spec) == len(data)
    header = len(reports.header_line(spec.report_type, spec.header_drift))
    for offset in (1, header - 1, header, header + 1, len(data) // 3, len(data) // 2 + 17, len(data) - 1):
        assert b"".join(stream(spec, offset)) == data[offset:], offset


def test_reports_stream_in_bounded_chunks():
    # given a report of several MB, then it arrives in many chunks none bigger than a small buffer
    chunks = [
        len(chunk) for chunk in stream(window("USER_EVENTS", MIDNIGHT, MIDNIGHT + timedelta(days=1), rows=20_000))
    ]
    assert sum(chunks) > 5_000_000
    assert len(chunks) > 50 and max(chunks) <= 128 * 1024


def test_header_drift_renames_the_last_column_or_adds_one_with_values():
    plain = read(b"".join(stream(window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=1)))))
    renamed = read(
        b"".join(stream(window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=1), header_drift="rename")))
    )
    added = read(b"".join(stream(window("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=1), header_drift="add"))))
    assert [a == b for a, b in zip(renamed[0], plain[0], strict=True)].count(False) == 1
    assert renamed[1:] == plain[1:]
    assert added[0][:-1] == plain[0] and added[0][-1] not in plain[0]
    assert [row[:-1] for row in added[1:]] == plain[1:] and all(row[-1] for row in added[1:])


def test_gzip_reports_decompress_to_the_plain_report():
    spec = window("USER_EVENTS", MIDNIGHT, MIDNIGHT + timedelta(days=1))
    compressed = b"".join(stream(replace(spec, gzip=True)))
    assert compressed[:2] == b"\x1f\x8b"
    assert gzip.decompress(compressed) == b"".join(stream(spec))


@pytest.mark.parametrize("bad", reports.BAD_RECORDS)
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_bad_last_record_follows_the_rows_and_resumes_from_any_byte(bad, gzipped):
    # given a day's report served with a bad last record
    plain = ReportSpec("ORDER_FEES", MIDNIGHT, MIDNIGHT + timedelta(days=1), 3, 20)
    spec = replace(plain, bad_last_record=bad, gzip=gzipped)
    whole = b"".join(stream(spec))
    text = gzip.decompress(whole) if gzipped else whole
    # then it is the usual report followed by the record, and its length is the Content-Length
    assert text.startswith(b"".join(stream(plain))) and text.endswith(reports.bad_record(spec))
    assert len(reports.bad_record(spec)) > 0 and len(whole) == report_length(spec)
    # and a download resumed anywhere, the record included, gets the rest
    for offset in (1, len(whole) // 2, len(whole) - 3):
        assert b"".join(stream(spec, offset)) == whole[offset:]


def test_a_report_type_written_as_one_entry_of_columns_is_served_as_csv(monkeypatch):
    # given a report type that exists only as an entry: an id, a time and two values drawn each on its own
    monkeypatch.setitem(REPORTS, SHIPMENTS.name, SHIPMENTS)
    spec = ReportSpec(SHIPMENTS.name, MIDNIGHT + timedelta(hours=6), MIDNIGHT + timedelta(days=2), 7, 300)
    # when a window of a day and a half is generated
    data = b"".join(stream(spec))
    rows = dict_rows(data)
    # then it is RFC 4180 CSV with the entry's header and its rows: unique ids, times in the window and in order
    assert read(data)[0] == ["shipmentId", "shippedAt", "carrier", "note"]
    assert 300 < len(rows) < 600 and all(len(row) == 4 for row in read(data))
    assert len({row["shipmentId"] for row in rows}) == len(rows)
    times = [row["shippedAt"] for row in rows]
    assert all(SECONDS.match(value) for value in times) and times == sorted(times)
    assert spec.start <= datetime.fromisoformat(times[0]) and datetime.fromisoformat(times[-1]) < spec.end
    assert {row["carrier"] for row in rows} == {"UPS", "USPS", "Acme, Inc."}
    assert {row["note"] for row in rows} == {"", 'said "leave it at the door"'}
    # and its length is known before generating, and any offset resumes exactly
    assert report_length(spec) == len(data)
    for offset in (1, len(data) // 3, len(data) - 2):
        assert b"".join(stream(spec, offset)) == data[offset:]
    assert one_day(SHIPMENTS.name) == one_day(SHIPMENTS.name) != one_day(SHIPMENTS.name, seed=8)


def _parcel(draw: Draw, rows: int | None = None) -> tuple[Row, ...]:
    """A parcel scanned one to three times, minutes apart; the first scan has no scan number."""
    count = rows or draw.rng.randint(1, 3)
    return tuple(
        Row(
            (draw.rng.choice(("in transit", "out, for delivery")),),
            delay=scan * draw.rng.randint(1, 600_000),
            key=scan or None,
        )
        for scan in range(count)
    )


PARCELS = ReportType(
    "TEST_PARCELS",
    (
        Column("parcelId", Key(lambda key: f"PX{key:015d}"[:17])),
        Column("orderedAt", Stamp()),
        Column("scannedAt", Stamp(delayed=True)),
        Column("scan", RowKey(lambda key, scan: f"{key % 1000:03d}-{scan}", absent="first")),
        Column("status", Drawn()),
    ),
    draw_unit=_parcel,
    groups=Groups(1, 3, _parcel),
)


@pytest.mark.parametrize("rows", [1, 2, 7, 500])
def test_an_entry_of_several_rows_a_unit_fills_the_day_and_keeps_rows_in_the_window(monkeypatch, rows):
    # given a report type written as one entry whose units are parcels of one to three scans, in milliseconds
    monkeypatch.setitem(REPORTS, PARCELS.name, PARCELS)
    start, end = MIDNIGHT, MIDNIGHT + timedelta(days=1)
    data = one_day(PARCELS.name, rows)
    parsed = dict_rows(data)
    # then the day has exactly rows_per_day rows, each scan at or after its parcel's order and inside the day
    assert len(parsed) == rows and read(data)[0] == ["parcelId", "orderedAt", "scannedAt", "scan", "status"]
    for row in parsed:
        ordered, scanned = datetime.fromisoformat(row["orderedAt"]), datetime.fromisoformat(row["scannedAt"])
        assert start <= ordered <= scanned < end and row["scannedAt"].endswith("Z") and len(row["scannedAt"]) == 24
        assert row["scan"] == "first" or row["scan"].endswith(("-1", "-2"))
    # and a window's length is known before generating, and any offset resumes exactly
    spec = ReportSpec(PARCELS.name, start + timedelta(hours=20), end, 7, rows)
    window_data = b"".join(stream(spec))
    assert report_length(spec) == len(window_data)
    for offset in (1, len(window_data) // 2, len(window_data) - 1):
        assert b"".join(stream(spec, offset)) == window_data[offset:]


def test_an_entry_whose_drawn_column_has_no_draw_is_refused_by_name():
    with pytest.raises(ValueError, match="TEST_BROKEN: columns carrier have no draw"):
        ReportType("TEST_BROKEN", (Column("id", Key(str)), Column("carrier", Drawn())))

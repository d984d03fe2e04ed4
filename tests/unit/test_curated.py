"""The curated Parquet file against the raw CSV it is made from: rows, values, types, drift, failures."""

from __future__ import annotations

import csv
import gzip
import io
import re
import threading
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bwp import errors
from bwp.lake.schemas import ORDER_FEES, USER_EVENTS, Column, ColumnType, ReportSchema, snake_case
from bwp.landing import curated
from bwp.landing import typed as typing_step

BUCKET = "lake"
RAW_KEY = "reports/report_type=T/dt=2024-08-22/T_2024-08-22.csv.gz"
CURATED_KEY = "curated/report_type=T/dt=2024-08-22/T_2024-08-22.parquet"

# Awkward on purpose: quoted commas and quotes, a newline inside a value, non-ASCII, empty cells,
# N/A, padded numbers, half-cent rounding both ways, bad numbers, offsets, a date without a time,
# an impossible date, a space for the T, more than microseconds, an amount too large for 18 digits.
FEE_ROWS = [
    [
        "322-A",
        "P01-1",
        "S01-1",
        "N/A",
        "2024-08-22T02:17:20Z",
        "2024-08-22T02:17:25.5Z",
        "PrimeServiceFee",
        "USD",
        "60",
        "1.23",
        "0",
        "0.15",
        "1.8",
    ],
    [
        "322-B",
        "P01,2",
        'S01 "two"',
        "",
        "2024-08-22T13:00:00+02:00",
        "2024-08-22",
        "Gebühr für Größe",
        "EUR",
        " 100.10 ",
        "1.235",
        "-1.235",
        "abc",
        "",
    ],
    [
        "322-C",
        "line one\nline two",
        "S01-3",
        "302199078370301",
        "2024-02-30T00:00:00Z",
        "2024-08-22 10:00:00",
        "N/A",
        "",
        "1e3",
        "N/A",
        "12345678901234567",
        "0.1",
        "+.5",
    ],
    [
        "322-D",
        "P01-4",
        "S01-4",
        "N/A",
        "2024-08-22T10:00:00.123456789Z",
        "yesterday",
        "ApayProcessingFee",
        "USD",
        "-",
        "5.",
        "99999999999999999999999999999999999999999",
        "1.999",
        "-0.005",
    ],
]
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
        'Mozilla/5.0 (KHTML, like Gecko) "Quoted", Safari',
        "https://shop.example/p/1?a=1,b=2",
        "",
        "SKU-ü",
        "2024-08-24T00:00:00-05:00",
        "product",
    ],
    ["e2", "click", "not a time", "SERVER_CLIENT", "", "N/A", "", "", "", "", "", "", "", "2024-08-24", ""],
]
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?")


# --- the raw CSV, typed in plain Python: what the curated file must equal ----------------------
def typed(column_type: ColumnType, text: str):
    if column_type is ColumnType.STRING:
        return None if text in ("", "N/A") else text
    text = text.strip()
    if column_type is ColumnType.TIMESTAMP:
        if not _ISO.fullmatch(text):
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    if column_type is ColumnType.DECIMAL:
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            return None
        try:
            value = Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return None
        return value if abs(value) < 10**16 else None
    return int(text) if re.fullmatch(r"[+-]?\d+", text) and -(2**31) <= int(text) < 2**31 else None


def expected_rows(schema: ReportSchema, header: list[str], csv_text: str) -> list[dict]:
    records = list(csv.reader(io.StringIO(csv_text, newline="")))[1:]
    return [
        {
            snake_case(column.name): typed(column.type, dict(zip(header, record, strict=True))[column.name])
            if column.name in header
            else None
            for column in schema.columns
        }
        for record in records
    ]


def csv_text(header, rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue()


def convert(schema, header, text: str) -> tuple[pa.Table, curated._Converted]:
    sink = io.BytesIO()
    result = curated.convert(io.BytesIO(text.encode()), sink, schema, header)
    return pq.read_table(io.BytesIO(sink.getvalue())), result


def as_python(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    for row in rows:
        for name, value in row.items():
            if isinstance(value, datetime):
                row[name] = value.astimezone(UTC)
    return rows


# --- values -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("schema", "rows"), [(ORDER_FEES, FEE_ROWS), (USER_EVENTS, EVENT_ROWS)])
def test_curated_rows_equal_the_raw_csv_rows_parsed_and_typed(schema, rows):
    # given a raw CSV with awkward values
    header = list(schema.column_names)
    text = csv_text(header, rows)
    # when it is converted
    table, result = convert(schema, header, text)
    # then every row is there, every value typed as the registry says, bad values NULL
    assert (result.rows, result.rows_skipped, result.extra_columns) == (len(rows), 0, ())
    assert as_python(table) == expected_rows(schema, header, text)
    assert table.schema == typing_step.arrow_schema(schema)


def test_types_are_utc_timestamps_two_place_decimals_and_text():
    table, _ = convert(ORDER_FEES, list(ORDER_FEES.column_names), csv_text(ORDER_FEES.column_names, FEE_ROWS))
    types = {field.name: field.type for field in table.schema}
    assert types["fee_charged_at"] == pa.timestamp("us", tz="UTC")
    assert types["fee_amount"] == pa.decimal128(18, 2)
    assert types["order_id"] == pa.string()
    values = as_python(table)
    # 13:00+02:00 is 11:00 UTC; half a cent rounds away from zero; 17 integer digits do not fit
    assert values[1]["order_created_at"] == datetime(2024, 8, 22, 11, tzinfo=UTC)
    assert (values[1]["fee_amount"], values[1]["fee_tax_amount"]) == (Decimal("1.24"), Decimal("-1.24"))
    assert values[2]["fee_tax_amount"] is None and values[2]["payment_id"] == "line one\nline two"
    assert values[3]["order_created_at"] == datetime(2024, 8, 22, 10, 0, 0, 123456, tzinfo=UTC)


def test_integers_within_32_bits_and_null_otherwise():
    schema = ReportSchema("T", (Column("units", ColumnType.INTEGER, ""),), provisional=True)
    rows = [["2"], [" -7 "], ["2147483648"], ["two"], ["1.5"]]
    table, _ = convert(schema, ["units"], csv_text(["units"], rows))
    assert table.column("units").to_pylist() == [2, -7, None, None, None]


def test_a_header_only_report_gives_an_empty_file_with_the_registry_columns():
    table, result = convert(ORDER_FEES, list(ORDER_FEES.column_names), csv_text(ORDER_FEES.column_names, []))
    assert table.num_rows == 0 and table.schema == typing_step.arrow_schema(ORDER_FEES)
    assert (result.rows, result.row_groups) == (0, 1)


def test_rows_are_batched_into_row_groups(monkeypatch):
    # given row groups of 3 rows, and 7 rows
    monkeypatch.setattr(curated, "ROW_GROUP_ROWS", 3)
    monkeypatch.setattr(typing_step, "CSV_BLOCK_BYTES", 200)
    rows = [FEE_ROWS[0][:1] + [f"P{i}"] + FEE_ROWS[0][2:] for i in range(7)]
    sink = io.BytesIO()
    result = curated.convert(
        io.BytesIO(csv_text(ORDER_FEES.column_names, rows).encode()), sink, ORDER_FEES, list(ORDER_FEES.column_names)
    )
    # then every row is written, in order, in more than one row group
    file = pq.ParquetFile(io.BytesIO(sink.getvalue()))
    assert file.read().column("payment_id").to_pylist() == [f"P{i}" for i in range(7)]
    assert result.row_groups == file.metadata.num_row_groups > 1


# --- drift and malformed rows -----------------------------------------------------------------
def test_a_renamed_column_is_kept_as_extra_text_and_its_registry_column_is_null():
    # given a header that renamed feeType and added a column (with a value that looks like a number)
    header = [("feeCategory" if name == "feeType" else name) for name in ORDER_FEES.column_names] + ["Fee Note"]
    rows = [row + ["1.50"] for row in FEE_ROWS]
    table, result = convert(ORDER_FEES, header, csv_text(header, rows))
    # then the registry's columns come first and fee_type is NULL for the day
    assert table.schema.names[: len(ORDER_FEES.columns)] == typing_step.arrow_schema(ORDER_FEES).names
    assert table.column("fee_type").null_count == len(rows)
    # and the renamed and the new column are kept, as the text they were
    assert result.extra_columns == ("extra_fee_category", "extra_fee_note")
    assert table.column("extra_fee_category").to_pylist() == [row[6] for row in FEE_ROWS]
    assert table.column("extra_fee_note").to_pylist() == ["1.50"] * len(rows)
    # and the other columns keep their values, matched by name
    assert as_python(table.select(typing_step.arrow_schema(ORDER_FEES).names)) == expected_rows(
        ORDER_FEES, header, csv_text(header, rows)
    )


def test_reordered_and_repeated_columns_are_matched_by_first_name():
    header = list(reversed(ORDER_FEES.column_names)) + ["orderId"]
    rows = [list(reversed(row)) + ["second"] for row in FEE_ROWS]
    table, result = convert(ORDER_FEES, header, csv_text(header, rows))
    assert table.column("order_id").to_pylist() == [row[0] for row in FEE_ROWS]
    assert result.extra_columns == ("extra_order_id",)
    assert table.column("extra_order_id").to_pylist() == ["second"] * len(FEE_ROWS)


def test_a_row_of_another_width_is_skipped_and_counted():
    # given a row of three fields between two good rows, and a blank line (a record to the raw count)
    good = csv_text(ORDER_FEES.column_names, FEE_ROWS[:2]).split("\r\n")
    text = "\r\n".join([good[0], good[1], "only,three,fields", good[2], "", ""])
    table, result = convert(ORDER_FEES, list(ORDER_FEES.column_names), text)
    # then the good rows and the blank line are rows (the blank one all NULL), the short row is counted
    assert (table.num_rows, result.rows, result.rows_skipped) == (3, 3, 1)
    assert table.column("order_id").to_pylist() == ["322-A", "322-B", None]


def test_text_that_is_not_utf8_is_mended_with_replacement_characters_and_counted():
    # given a report whose third row has a Latin-1 "café" and two bytes that are no text at all
    good = csv_text(ORDER_FEES.column_names, FEE_ROWS[:2]).encode()
    text = good + b"322-X,caf\xe9,\xff\xfeS" + b",1" * 10 + b"\r\n"
    # when it is curated
    sink = io.BytesIO()
    result = curated.convert(io.BytesIO(text), sink, ORDER_FEES, list(ORDER_FEES.column_names))
    table = pq.read_table(io.BytesIO(sink.getvalue()))
    # then the day is curated whole: each invalid sequence is U+FFFD, the values so mended are counted
    assert (result.rows, result.invalid_utf8_values) == (3, 2)
    assert table.column("payment_id").to_pylist()[2] == "caf\ufffd"
    assert table.column("selling_partner_fba_order_id").to_pylist()[2] == "\ufffd\ufffdS"
    # and every other value reads as it would have without the bad row
    assert as_python(table.slice(0, 2)) == expected_rows(ORDER_FEES, list(ORDER_FEES.column_names), good.decode())


def test_a_record_longer_than_the_reader_block_is_a_named_failure(monkeypatch):
    # given a reader block of 4 KiB and a report that ends with one field of 10 KiB and no line end
    monkeypatch.setattr(typing_step, "CSV_BLOCK_BYTES", 4096)
    text = csv_text(ORDER_FEES.column_names, FEE_ROWS[:1]).encode() + b"x" * 10240
    # then curating it fails, naming the report type and what the reader said
    with pytest.raises(errors.CuratedWriteFailed, match="could not be read as ORDER_FEES: .*straddl"):
        curated.convert(io.BytesIO(text), io.BytesIO(), ORDER_FEES, list(ORDER_FEES.column_names))


# --- in S3 ------------------------------------------------------------------------------------
def put_raw(s3, body: bytes) -> None:
    # Two gzip members, as a source that was already gzip may be stored.
    half = len(body) // 2
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=gzip.compress(body[:half]) + gzip.compress(body[half:]))


def write(s3, raw_rows: int, part_size: int = curated.DEFAULT_PART_SIZE) -> curated.CuratedResult:
    return curated.write_curated(
        s3=s3,
        bucket=BUCKET,
        source_key=RAW_KEY,
        key=CURATED_KEY,
        schema=ORDER_FEES,
        header=ORDER_FEES.column_names,
        raw_rows=raw_rows,
        part_size=part_size,
    )


def test_the_raw_object_read_back_from_s3_becomes_the_parquet_object_the_result_describes(s3):
    # given a raw object of many rows in several gzip members
    text = csv_text(ORDER_FEES.column_names, FEE_ROWS * 5000)
    put_raw(s3, text.encode())
    # when it is curated with the smallest parts S3 takes
    result = write(s3, raw_rows=len(FEE_ROWS) * 5000, part_size=5 * 1024 * 1024)
    # then the object holds every row, and its size and checksum are the result's
    stored = s3.get_object(Bucket=BUCKET, Key=CURATED_KEY)
    body = stored["Body"].read()
    assert stored["ContentType"] == curated.PARQUET_CONTENT_TYPE
    assert (len(body), curated.hashlib.sha256(body).hexdigest()) == (result.bytes, result.sha256)
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == result.rows == len(FEE_ROWS) * 5000
    assert as_python(table.slice(0, len(FEE_ROWS))) == expected_rows(
        ORDER_FEES, list(ORDER_FEES.column_names), csv_text(ORDER_FEES.column_names, FEE_ROWS)
    )
    assert result.to_manifest()["key"] == CURATED_KEY


def test_a_rerun_replaces_the_parquet_object(s3):
    put_raw(s3, csv_text(ORDER_FEES.column_names, FEE_ROWS).encode())
    write(s3, raw_rows=len(FEE_ROWS))
    put_raw(s3, csv_text(ORDER_FEES.column_names, FEE_ROWS[:1]).encode())
    second = write(s3, raw_rows=1)
    body = s3.get_object(Bucket=BUCKET, Key=CURATED_KEY)["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 1 == second.rows
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["KeyCount"] == 1


@pytest.mark.parametrize(
    ("raw", "raw_rows", "error"),
    [
        (
            csv_text(ORDER_FEES.column_names, FEE_ROWS).encode() + b"x" * (2 * typing_step.CSV_BLOCK_BYTES),
            5,
            errors.CuratedWriteFailed,
        ),
        # the raw landing counted another number of rows than the CSV reader sees
        (csv_text(ORDER_FEES.column_names, FEE_ROWS).encode(), len(FEE_ROWS) + 1, errors.CuratedWriteFailed),
    ],
)
def test_a_failed_curated_write_leaves_no_object_and_no_upload_in_progress(s3, raw, raw_rows, error):
    put_raw(s3, raw)
    with pytest.raises(error):
        write(s3, raw_rows=raw_rows)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["KeyCount"] == 0
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_typing_yields_the_batches_the_parquet_file_is_written_from_with_their_counts():
    # given a report with a column the registry does not know, a record of the wrong width and a
    # value that is not UTF-8
    header = [*ORDER_FEES.column_names, "newColumn"]
    text = (
        csv_text(header, [[*row, "x"] for row in FEE_ROWS[:2]]).encode()
        + b"short,row\r\n"
        + b"322-Y,caf\xe9"
        + b",1" * 12
        + b"\r\n"
    )
    # when it is typed, with no file format at all
    typed = typing_step.TypedBatches(io.BytesIO(text), ORDER_FEES, header)
    batches = list(typed)
    # then the batches are of the typed schema, extra column included, and say what typing saw
    assert all(batch.schema == typed.arrow_schema for batch in batches)
    assert typed.extra_columns == ("extra_new_column",)
    assert (typed.rows, typed.rows_skipped, typed.invalid_utf8_values) == (3, 1, 1)
    # and the curated Parquet file holds exactly these rows
    sink = io.BytesIO()
    curated.convert(io.BytesIO(text), sink, ORDER_FEES, header)
    written = pq.read_table(io.BytesIO(sink.getvalue()))
    assert pa.Table.from_batches(batches, typed.arrow_schema).to_pylist() == written.to_pylist()


def test_amounts_with_at_most_two_places_are_exact_and_a_lone_padded_value_is_still_read():
    # given amounts none of which needs rounding, one of 17 integer digits, one padded with
    # non-breaking spaces, and a timestamp padded with an em space among clean ones
    schema = ReportSchema(
        "T",
        (Column("amount", ColumnType.DECIMAL, ""), Column("at", ColumnType.TIMESTAMP, "")),
        provisional=True,
    )
    rows = [
        ["1.500", "2024-08-22T01:00:00Z"],
        ["12345678901234567", "\u20032024-08-22T02:00:00Z\u2003"],
        ["\u00a0-7.5\u00a0", "2024-08-22T03:00:00Z"],
        ["9999999999999999.99", "N/A"],
    ]
    # when typed
    table, _ = convert(schema, ["amount", "at"], csv_text(["amount", "at"], rows))
    # then each fitting amount is itself at two places, the one too large is NULL, padding is ignored
    assert table.column("amount").to_pylist() == [
        Decimal("1.50"),
        None,
        Decimal("-7.50"),
        Decimal("9999999999999999.99"),
    ]
    assert table.column("at").to_pylist() == [datetime(2024, 8, 22, hour, tzinfo=UTC) for hour in (1, 2, 3)] + [None]


def test_values_arrows_cast_takes_but_the_rules_refuse_are_null_among_regular_ones():
    # given columns in which every value but one is regular, and that one is read by Arrow's own
    # cast (an exponent, a space for the T, an hour without minutes, hexadecimal) or is a NULL text
    schema = ReportSchema(
        "T",
        (
            Column("amount", ColumnType.DECIMAL, ""),
            Column("at", ColumnType.TIMESTAMP, ""),
            Column("units", ColumnType.INTEGER, ""),
            Column("name", ColumnType.STRING, ""),
        ),
        provisional=True,
    )
    header = ["amount", "at", "units", "name"]
    regular = ["1.25", "2024-08-22T01:00:00Z", "7", "a"]
    odd = [
        ["1e3", "2024-08-22 01:00:00Z", "0x10", "N/A"],
        ["1E3", "2024-08-22T01Z", "0X10", ""],
        ["2.5e-1", "2024-08-22T01+02:00", "7", "a"],
    ]
    for row in odd:
        # when typed
        table, _ = convert(schema, header, csv_text(header, [regular, row]))
        # then the regular values are typed and the odd ones NULL, as the rules say
        assert as_python(table) == expected_rows(schema, header, csv_text(header, [regular, row]))


# --- typed as the landing hands the text over ------------------------------------------------
def stream(s3) -> curated.CuratedStream:
    return curated.CuratedStream(s3=s3, bucket=BUCKET, key=CURATED_KEY, schema=ORDER_FEES)


def uploads(s3) -> list:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_text_handed_over_in_any_pieces_becomes_the_file_converted_from_the_whole_text(s3, monkeypatch):
    # given a report handed over in 7-byte pieces, its header known only after the first pieces,
    # through a hand-over smaller than the report
    monkeypatch.setattr(curated, "HANDOVER_BYTES", 64)
    s3.create_bucket(Bucket=BUCKET)
    text = csv_text(ORDER_FEES.column_names, FEE_ROWS * 50).encode()
    typing = stream(s3)
    pieces = [text[at : at + 7] for at in range(0, len(text), 7)]
    for piece in pieces[:3]:
        typing.write(piece)
    typing.header(ORDER_FEES.column_names)
    for piece in pieces[3:]:
        typing.write(piece)
    typing.end()
    # when it finishes
    result = typing.finish(len(FEE_ROWS) * 50, source=RAW_KEY)
    # then the object is byte for byte the file converted from the whole text at once
    whole = io.BytesIO()
    curated.convert(io.BytesIO(text), whole, ORDER_FEES, list(ORDER_FEES.column_names))
    body = s3.get_object(Bucket=BUCKET, Key=CURATED_KEY)["Body"].read()
    assert body == whole.getvalue() and result.bytes == len(body) and result.rows == len(FEE_ROWS) * 50


def test_a_typing_failure_lets_the_landing_hand_over_the_rest_and_is_raised_at_the_finish(s3, monkeypatch):
    # given a small reader block and hand-over, and a report whose second record is longer than a block
    monkeypatch.setattr(typing_step, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(curated, "HANDOVER_BYTES", 4096)
    s3.create_bucket(Bucket=BUCKET)
    typing = stream(s3)
    typing.header(ORDER_FEES.column_names)
    rest = [csv_text(ORDER_FEES.column_names, FEE_ROWS[:1]).encode() + b"x" * 10240 + b"\r\n"]
    rest += [csv_text(ORDER_FEES.column_names, FEE_ROWS).encode().split(b"\r\n", 1)[1]] * 2000
    # when the landing hands over far more than the hand-over holds (in a thread: it must not block)
    landing = threading.Thread(target=lambda: [typing.write(piece) for piece in rest] and typing.end())
    landing.start()
    landing.join(timeout=60)
    assert not landing.is_alive()
    # then the finish raises the typing's failure, and nothing is left in S3
    with pytest.raises(errors.CuratedWriteFailed, match="straddl"):
        typing.finish(2001, source=RAW_KEY)
    assert uploads(s3) == [] and s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


@pytest.mark.parametrize("header_known", [False, True], ids=["before-the-header", "mid-way"])
def test_an_aborted_stream_leaves_no_object_and_no_upload(s3, header_known):
    s3.create_bucket(Bucket=BUCKET)
    typing = stream(s3)
    typing.write(csv_text(ORDER_FEES.column_names, FEE_ROWS).encode())
    if header_known:
        typing.header(ORDER_FEES.column_names)
    typing.abort()
    assert uploads(s3) == [] and s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0

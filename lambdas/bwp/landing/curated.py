"""The curated layer: one typed Parquet object per landed (report type, day), made from the raw object.

The raw gzip CSV is read back from S3 as a stream, parsed by pyarrow's streaming CSV reader with
every column as text, typed by the registry in record batches and written by a ParquetWriter
into a multipart upload: memory stays flat whatever the report's size (a few row groups), and the
object appears only when the upload completes. Any failure aborts the upload.

Typing rules, one per registry type (``bwp.lake.schemas.ColumnType``); a value that does not follow
its rule becomes NULL, never an error:

- STRING: the text as it is; '' and 'N/A' (the reports' "not applicable") are NULL.
- TIMESTAMP: ISO-8601 ``YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH[:MM]]``, without an offset read
  as UTC, stored as a UTC timestamp in microseconds.
- DECIMAL: ``[+-]digits[.digits]`` rounded half away from zero to two places, decimal(18,2);
  more than 16 integer digits is NULL.
- INTEGER: ``[+-]digits`` within 32 bits.

Text that is not UTF-8 does not fail the day: each invalid byte sequence of a value becomes
U+FFFD (the replacement character), the values so mended are counted in the manifest
(``curated.invalidUtf8Values``), and the raw object keeps the bytes as served.

Surrounding blanks are ignored for every type but STRING. Columns are matched to the registry by
header name: a registry column missing from the header is NULL for the day, and a header column
the registry does not know (a renamed one, say) is kept as text under ``extra_<snake_case>``.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bwp import errors
from bwp.lake.schemas import ColumnType, ReportSchema, snake_case
from bwp.landing.multipart import DEFAULT_PART_SIZE, MultipartUpload

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# zstd level 3: on report-like rows 3 % smaller than level 1 (9 % of the columns the
# reconciliation reads) for no measurable CPU time; Athena and DuckDB both read zstd Parquet.
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3
# Rows per row group: large enough for Athena to read few, long column chunks; small enough that
# the group being assembled (its record batches) stays a few tens of MiB.
ROW_GROUP_ROWS = 128 * 1024
CSV_BLOCK_BYTES = 1024 * 1024
EXTRA_COLUMN_PREFIX = "extra_"

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.DECIMAL: pa.decimal128(18, 2),
    ColumnType.INTEGER: pa.int32(),
}
NULL_STRINGS = ("", "N/A")

_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_HAS_TIME = r"T"
_HAS_ZONE = r"(Z|[+-]\d{2}(:?\d{2})?)$"
_DECIMAL = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
_INTEGER = r"^[+-]?\d+$"
# Wide enough to hold any decimal text before rounding it to two places.
_DECIMAL_WORKING = pa.decimal128(38, 18)
_DECIMAL_LIMIT = Decimal(10) ** 16
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class CuratedResult:
    """What the manifest records about the curated object."""

    key: str
    rows: int
    rows_skipped: int  # records of the raw CSV that are not rows of the header's width
    bytes: int
    sha256: str
    row_groups: int
    extra_columns: tuple[str, ...]
    invalid_utf8_values: int  # values whose bytes were not UTF-8, mended with U+FFFD

    def to_manifest(self) -> dict:
        return {
            "key": self.key,
            "rows": self.rows,
            "rowsSkipped": self.rows_skipped,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "rowGroups": self.row_groups,
            "extraColumns": list(self.extra_columns),
            "invalidUtf8Values": self.invalid_utf8_values,
        }


@dataclass(frozen=True)
class _Converted:
    rows: int
    rows_skipped: int
    row_groups: int
    extra_columns: tuple[str, ...]
    invalid_utf8_values: int


def arrow_schema(schema: ReportSchema, extra_columns: Sequence[str] = ()) -> pa.Schema:
    """The curated file's columns: the registry's, snake_case and typed, then any extra text columns."""
    fields = [pa.field(snake_case(column.name), ARROW_TYPES[column.type]) for column in schema.columns]
    return pa.schema(fields + [pa.field(name, pa.string()) for name in extra_columns])


def write_curated(
    *,
    s3,
    bucket: str,
    source_key: str,
    key: str,
    schema: ReportSchema,
    header: Sequence[str],
    raw_rows: int,
    part_size: int = DEFAULT_PART_SIZE,
) -> CuratedResult:
    """Convert the gzip CSV at ``source_key`` into Parquet at ``key``; the object appears only if all went well.

    Raises CuratedWriteFailed when the raw CSV cannot be read as the header says; S3's own errors
    pass as they are (the caller names the transient ones). On any error the upload is aborted.
    """
    upload = MultipartUpload(s3, bucket, key, part_size, content_type=PARQUET_CONTENT_TYPE)
    sink = _HashingSink(upload)
    try:
        body = s3.get_object(Bucket=bucket, Key=source_key)["Body"]
        with gzip.GzipFile(fileobj=body) as text:
            converted = convert(text, sink, schema, header)
        if converted.rows + converted.rows_skipped != raw_rows:
            raise errors.CuratedWriteFailed(
                f"{source_key}: the raw landing counted {raw_rows} rows, the CSV reader "
                f"{converted.rows} rows and {converted.rows_skipped} skipped"
            )
        upload.complete()
    except BaseException:
        upload.abort()
        raise
    return CuratedResult(
        key=key,
        rows=converted.rows,
        rows_skipped=converted.rows_skipped,
        bytes=sink.size,
        sha256=sink.sha256.hexdigest(),
        row_groups=converted.row_groups,
        extra_columns=converted.extra_columns,
        invalid_utf8_values=converted.invalid_utf8_values,
    )


def convert(source, sink, schema: ReportSchema, header: Sequence[str]) -> _Converted:
    """CSV text (a binary file-like, header line first) into Parquet on ``sink`` (a binary writable)."""
    positions, extras = _column_positions(schema, header)
    target = arrow_schema(schema, [name for name, _ in extras])
    skipped = 0
    mended = _Utf8Mender()

    def skip_row(_row) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    # Generated names and skip_rows: the header is the landing's (repeated names included).
    names = [f"c{index}" for index in range(len(header))]
    try:
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(
                # A blank line is a record to the raw landing's count, and here a row of NULLs.
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=skip_row
            ),
            convert_options=pa_csv.ConvertOptions(
                # Bytes, made text per column by _Utf8Mender: one value that is not UTF-8 must
                # not fail the day.
                column_types=dict.fromkeys(names, pa.binary()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        rows = row_groups = 0
        with pq.ParquetWriter(
            sink,
            target,
            compression=PARQUET_COMPRESSION,
            compression_level=PARQUET_COMPRESSION_LEVEL,
            **_encodings(target),
        ) as writer:
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            for batch in _batches(reader):
                pending.append(_typed(mended.batch(batch), schema, positions, extras, target))
                pending_rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending, target), row_group_size=pending_rows)
                    rows, row_groups = rows + pending_rows, row_groups + 1
                    pending, pending_rows = [], 0
            if pending_rows or not row_groups:
                writer.write_table(pa.Table.from_batches(pending, target), row_group_size=max(pending_rows, 1))
                rows, row_groups = rows + pending_rows, row_groups + 1
    except pa.ArrowInvalid as error:
        raise errors.CuratedWriteFailed(f"the raw CSV could not be read as {schema.report_type}: {error}") from None
    return _Converted(
        rows=rows,
        rows_skipped=skipped,
        row_groups=row_groups,
        extra_columns=tuple(n for n, _ in extras),
        invalid_utf8_values=mended.values,
    )


class _Utf8Mender:
    """Binary CSV columns as text: Arrow's validating cast for a whole column; value by value,
    with U+FFFD for each invalid sequence, only in a column that holds bytes that are not UTF-8."""

    def __init__(self) -> None:
        self.values = 0

    def batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([self._text(column) for column in batch.columns], names=batch.schema.names)

    def _text(self, column: pa.Array) -> pa.Array:
        try:
            return pc.cast(column, pa.string())
        except pa.ArrowInvalid:
            raw = column.to_pylist()
            self.values += sum(1 for value in raw if value is not None and not _is_utf8(value))
            return pa.array([None if value is None else value.decode("utf-8", "replace") for value in raw], pa.string())


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _encodings(target: pa.Schema) -> dict:
    """Per type, the encoding that stored report-like rows smallest (benchmarks/BENCHMARKS.md):
    text as DELTA_BYTE_ARRAY (ids share prefixes, and a dictionary of distinct ids only adds
    indexes), timestamps PLAIN (nearly all distinct), numbers in a dictionary (amounts repeat)."""
    text = [field.name for field in target if pa.types.is_string(field.type)]
    times = [field.name for field in target if pa.types.is_timestamp(field.type)]
    return {
        "use_dictionary": [field.name for field in target if field.name not in text and field.name not in times],
        "column_encoding": {**dict.fromkeys(text, "DELTA_BYTE_ARRAY"), **dict.fromkeys(times, "PLAIN")},
    }


def _batches(reader):
    # A CSV of only its header line has no batch at all: yields nothing.
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def _column_positions(
    schema: ReportSchema, header: Sequence[str]
) -> tuple[list[int | None], list[tuple[str, int]]]:
    """Each registry column's position in the header (None if absent); the others as (extra name, position)."""
    first: dict[str, int] = {}
    for index, name in enumerate(header):
        first.setdefault(name, index)
    positions = [first.get(column.name) for column in schema.columns]
    taken = {snake_case(column.name) for column in schema.columns}
    extras = []
    for index, name in enumerate(header):
        if index in positions:
            continue
        extra = EXTRA_COLUMN_PREFIX + (re.sub(r"[^a-z0-9_]+", "_", snake_case(name.strip())).strip("_") or "column")
        if extra in taken:
            extra = f"{extra}_{index + 1}"
        taken.add(extra)
        extras.append((extra, index))
    return positions, extras


def _typed(batch, schema, positions, extras, target: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for column, position in zip(schema.columns, positions, strict=True):
        arrow_type = ARROW_TYPES[column.type]
        if position is None:
            arrays.append(pa.nulls(batch.num_rows, arrow_type))
        else:
            arrays.append(_CASTS[column.type](batch.column(position)))
    arrays += [batch.column(position) for _, position in extras]
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _valid(text: pa.Array, pattern: str) -> pa.Array:
    """Trimmed text where it matches ``pattern``, NULL elsewhere."""
    trimmed = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.match_substring_regex(trimmed, pattern), trimmed, None)


def _vectorised_or_each(values: pa.Array, vectorised: Callable, each: Callable, arrow_type) -> pa.Array:
    """Arrow's cast for the whole batch; value by value only when a value passed the pattern and
    still does not cast (31 February, a 40-digit amount): that value alone becomes NULL."""
    try:
        return vectorised(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([each(value) for value in values.to_pylist()], type=arrow_type)


def _string(text: pa.Array) -> pa.Array:
    return pc.if_else(pc.is_in(text, pa.array(NULL_STRINGS)), None, text)


def _timestamp(text: pa.Array) -> pa.Array:
    valid = _valid(text, _TIMESTAMP)
    arrow_type = ARROW_TYPES[ColumnType.TIMESTAMP]

    def vectorised(values):
        try:
            return pc.cast(values, arrow_type)
        except pa.ArrowInvalid:
            # Arrow wants a time and an offset; reports usually give both, so this is the slow path.
            with_time = _append_unless(values, _HAS_TIME, "T00:00:00")
            return pc.cast(_append_unless(with_time, _HAS_ZONE, "Z"), arrow_type)

    return _vectorised_or_each(valid, vectorised, _parse_timestamp, arrow_type)


def _append_unless(text: pa.Array, pattern: str, suffix: str) -> pa.Array:
    return pc.if_else(pc.match_substring_regex(text, pattern), text, pc.binary_join_element_wise(text, suffix, ""))


def _parse_timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _decimal(text: pa.Array) -> pa.Array:
    arrow_type = ARROW_TYPES[ColumnType.DECIMAL]

    def vectorised(values):
        working = pc.cast(values, _DECIMAL_WORKING)
        return pc.cast(pc.round(working, ndigits=2, round_mode="half_towards_infinity"), arrow_type)

    return _vectorised_or_each(_valid(text, _DECIMAL), vectorised, _parse_decimal, arrow_type)


def _parse_decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        rounded = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return rounded if abs(rounded) < _DECIMAL_LIMIT else None


def _integer(text: pa.Array) -> pa.Array:
    arrow_type = ARROW_TYPES[ColumnType.INTEGER]
    return _vectorised_or_each(
        _valid(text, _INTEGER), lambda values: pc.cast(values, arrow_type), _parse_integer, arrow_type
    )


def _parse_integer(value: str | None) -> int | None:
    if value is None:
        return None
    number = int(value)
    return number if _INT32[0] <= number <= _INT32[1] else None


_CASTS: dict[ColumnType, Callable[[pa.Array], pa.Array]] = {
    ColumnType.STRING: _string,
    ColumnType.TIMESTAMP: _timestamp,
    ColumnType.DECIMAL: _decimal,
    ColumnType.INTEGER: _integer,
}


class _HashingSink:
    """A binary writable that ParquetWriter can write to: counts, hashes and passes bytes to the upload."""

    def __init__(self, upload: MultipartUpload) -> None:
        self._upload = upload
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.sha256.update(data)
        self.size += len(data)
        self._upload.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

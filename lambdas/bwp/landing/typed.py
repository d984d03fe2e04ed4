"""Typing a report: the raw CSV as record batches typed by the registry, in no file format.

The curated Parquet file is one consumer of these batches (``bwp.landing.curated``); another table
format would be a second. The CSV is read as a stream by pyarrow's streaming CSV reader with every
column as bytes, and typed batch by batch: memory stays flat whatever the report's size.

Typing rules, one per registry type (``bwp.lake.schemas.ColumnType``); a value that does not follow
its rule becomes NULL, never an error:

- STRING: the text as it is; '' and 'N/A' (the reports' "not applicable") are NULL.
- TIMESTAMP: ISO-8601 ``YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH[:MM]]``, without an offset read
  as UTC, stored as a UTC timestamp in microseconds.
- DECIMAL: ``[+-]digits[.digits]`` rounded half away from zero to two places, decimal(18,2);
  more than 16 integer digits is NULL.
- INTEGER: ``[+-]digits`` within 32 bits.

Text that is not UTF-8 does not fail the day: each invalid byte sequence of a value becomes
U+FFFD (the replacement character), and the values so mended are counted (the manifest's
``curated.invalidUtf8Values``); the raw object keeps the bytes as served.

Surrounding blanks are ignored for every type but STRING. Columns are matched to the registry by
header name: a registry column missing from the header is NULL for the day, and a header column
the registry does not know (a renamed one, say) is kept as text under ``extra_<snake_case>``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from io import BufferedIOBase
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from bwp import errors
from bwp.lake.schemas import ColumnType, ReportSchema, snake_case

# What the CSV is read from: a file, a stream, gzip over an S3 body.
ByteSource = IO[bytes] | BufferedIOBase
CSV_BLOCK_BYTES = 1024 * 1024
# Blocks the CSV reader may read ahead of the batches typed: pyarrow's reader would read 32 (32
# MiB of text held besides the row group being assembled).
CSV_BLOCKS_AHEAD = 4
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


def arrow_schema(schema: ReportSchema, extra_columns: Sequence[str] = ()) -> pa.Schema:
    """The typed columns: the registry's, snake_case and typed, then any extra text columns."""
    fields = [pa.field(snake_case(column.name), ARROW_TYPES[column.type]) for column in schema.columns]
    return pa.schema(fields + [pa.field(name, pa.string()) for name in extra_columns])


class TypedBatches:
    """A raw report's CSV (a binary file-like, header line first) as record batches of
    ``arrow_schema``; ``header`` is the landing's. Iterate once: the counts are whole when the
    iteration ends. A CSV that cannot be read as the header says raises CuratedWriteFailed."""

    def __init__(self, source: ByteSource, schema: ReportSchema, header: Sequence[str]) -> None:
        self._source, self._schema, self._header = source, schema, header
        self._positions, self._extras = _column_positions(schema, header)
        self.extra_columns: tuple[str, ...] = tuple(name for name, _ in self._extras)
        self.arrow_schema = arrow_schema(schema, self.extra_columns)
        self.rows = 0
        self.rows_skipped = 0  # records of the CSV that are not rows of the header's width
        self._mended = _Utf8Mender()

    @property
    def invalid_utf8_values(self) -> int:
        """Values whose bytes were not UTF-8, mended with U+FFFD."""
        return self._mended.values

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        source = _PacedSource(self._source)
        try:
            for batch in source.batches(self._open):
                typed = self._typed(batch)
                self.rows += typed.num_rows
                yield typed
        except pa.ArrowInvalid as error:
            raise errors.CuratedWriteFailed(
                f"the raw CSV could not be read as {self._schema.report_type}: {error}"
            ) from None
        finally:
            source.close()

    def _open(self, source: ByteSource):
        def skip_row(_row) -> str:
            self.rows_skipped += 1
            return "skip"

        # Generated names and skip_rows: the header is the landing's (repeated names included).
        names = [f"c{index}" for index in range(len(self._header))]
        return pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(
                # A blank line is a record to the raw landing's count, and here a row of NULLs.
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=skip_row,
            ),
            convert_options=pa_csv.ConvertOptions(
                # Bytes, typed or made text per column (_Utf8Mender): one value that is not UTF-8
                # must not fail the day.
                column_types=dict.fromkeys(names, pa.binary()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    def _typed(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """One batch of binary columns as ``arrow_schema``: each column read once, by its type's rule."""
        arrays = []
        for column, position in zip(self._schema.columns, self._positions, strict=True):
            if position is None:
                arrays.append(pa.nulls(batch.num_rows, ARROW_TYPES[column.type]))
            else:
                arrays.append(_CASTS[column.type](batch.column(position), self._mended.text))
        arrays += [self._mended.text(batch.column(position)) for _, position in self._extras]
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)


class _Utf8Mender:
    """Binary CSV columns as text: Arrow's validating cast for a whole column; value by value,
    with U+FFFD for each invalid sequence, only in a column that holds bytes that are not UTF-8."""

    def __init__(self) -> None:
        self.values = 0

    def text(self, column: pa.Array) -> pa.Array:
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


class _PacedSource(BufferedIOBase):
    """The CSV as the reader reads it, at most CSV_BLOCKS_AHEAD blocks ahead of the batches taken,
    unless the taker waits for a batch (so a block that yields none cannot stall the reader)."""

    def __init__(self, source: ByteSource) -> None:
        super().__init__()
        self._source = source
        self._reads = self._taken = 0
        self._taker_waits = self._closed = False
        self._changed = threading.Condition()

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        with self._changed:
            self._changed.wait_for(
                lambda: self._closed or self._taker_waits or self._reads - self._taken < CSV_BLOCKS_AHEAD
            )
            if self._closed:
                return b""
            self._reads += 1
        return self._source.read(-1 if size is None else size)

    def batches(self, open_csv: Callable[[ByteSource], pa_csv.CSVStreamingReader]) -> Iterator[pa.RecordBatch]:
        # A CSV of only its header line has no batch at all: yields nothing.
        with self._waiting():
            reader = open_csv(self)
        while True:
            try:
                with self._waiting():
                    batch = reader.read_next_batch()
            except StopIteration:
                return
            yield batch

    @contextmanager
    def _waiting(self) -> Iterator[None]:
        self._set(taker_waits=True)
        try:
            yield
        finally:
            self._set(taker_waits=False)

    def _set(self, *, taker_waits: bool) -> None:
        with self._changed:
            self._taker_waits = taker_waits
            self._taken += not taker_waits
            self._changed.notify_all()

    def close(self) -> None:
        """No more reading: the batches are no longer taken."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def _column_positions(schema: ReportSchema, header: Sequence[str]) -> tuple[list[int | None], list[tuple[str, int]]]:
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


def _valid(text: pa.Array, pattern: str) -> pa.Array:
    """Trimmed text where it matches ``pattern``, NULL elsewhere."""
    matches = pc.match_substring_regex(text, pattern)
    # A value that matches has no surrounding blanks (each pattern starts and ends with a
    # non-blank), so trimming matters only where a value that does not match would match trimmed:
    # reports rarely pad their values, and trimming every value costs as much as matching it.
    unmatched = pc.utf8_trim_whitespace(pc.filter(text, pc.invert(matches)))
    if pc.any(pc.match_substring_regex(unmatched, pattern)).as_py():
        text = pc.utf8_trim_whitespace(text)
        matches = pc.match_substring_regex(text, pattern)
    return _null_where_false(text, matches)


def _null_where_false(values: pa.Array, keep: pa.Array) -> pa.Array:
    """``values`` with NULL where ``keep`` is false. Without NULLs on either side, the result is
    ``values`` with ``keep``'s bits as its validity, copying no value (if_else copies every one);
    what stays under a NULL is never read."""
    if values.null_count or keep.null_count or values.offset or keep.offset:
        return pc.if_else(keep, values, None)
    return pa.Array.from_buffers(values.type, len(values), [keep.buffers()[1], *values.buffers()[1:]])


def _vectorised_or_each(values: pa.Array, vectorised: Callable, each: Callable, arrow_type) -> pa.Array:
    """Arrow's cast for the whole batch; value by value only when a value passed the pattern and
    still does not cast (31 February, a 40-digit amount): that value alone becomes NULL."""
    try:
        return vectorised(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([each(value) for value in values.to_pylist()], type=arrow_type)


# Each rule below types a column of CSV bytes (``raw``) in one of two ways, with the same result.
# The direct way, first: Arrow's cast reads the bytes as they are, and it is taken only when it
# succeeds for every value of the batch and a check on the bytes proves that each value follows
# the rule (the cast accepts a little more than a rule: 1e3 as a decimal, a space for T). Such
# values are ASCII, so they need no UTF-8 mending either. Otherwise, the rule's own way: the
# column made text (mended), matched to the rule's pattern, then cast, value by value only where
# a value matches and still does not cast. Reports are nearly always regular, and the direct way
# costs a third of the other: matching a pattern costs more than casting.
AsText = Callable[[pa.Array], pa.Array]


def _holds(raw: pa.Array, *needles: bytes) -> bool:
    """Whether the column's bytes hold one of ``needles`` (a search of its whole data buffer at once)."""
    data = raw.buffers()[2]
    held = b"" if data is None else data.to_pybytes()
    return any(needle in held for needle in needles)


def _direct(raw: pa.Array, cast: Callable[[pa.Array], pa.Array]) -> pa.Array | None:
    """``cast`` of the column's bytes read as text without validating them; None if a value does not cast."""
    try:
        return cast(raw.view(pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _string(raw: pa.Array, as_text: AsText) -> pa.Array:
    text = as_text(raw)
    if not _holds(raw, b"N/A") and pc.min(pc.binary_length(raw)).as_py():
        return text  # no '' and no N/A: nothing to null
    return _null_where_false(text, pc.invert(pc.is_in(text, pa.array(NULL_STRINGS))))


def _timestamp(raw: pa.Array, as_text: AsText) -> pa.Array:
    arrow_type = ARROW_TYPES[ColumnType.TIMESTAMP]
    # What the cast accepts beyond the rule: a space for T, and an hour without minutes. Every
    # value it accepts starts with a date, so T must follow it, and ':' the hour.
    direct = _direct(raw, lambda values: pc.cast(values, arrow_type))
    if direct is not None and _every(raw, 10, b"T") and _every(raw, 13, b":"):
        return direct

    def vectorised(values):
        try:
            return pc.cast(values, arrow_type)
        except pa.ArrowInvalid:
            # Arrow wants a time and an offset; reports usually give both, so this is the slow path.
            with_time = _append_unless(values, _HAS_TIME, "T00:00:00")
            return pc.cast(_append_unless(with_time, _HAS_ZONE, "Z"), arrow_type)

    return _vectorised_or_each(_valid(as_text(raw), _TIMESTAMP), vectorised, _parse_timestamp, arrow_type)


def _every(raw: pa.Array, position: int, character: bytes) -> bool:
    """Whether every value has ``character`` at ``position``."""
    return bool(pc.all(pc.equal(pc.binary_slice(raw, position, position + 1), character)).as_py())


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


def _decimal(raw: pa.Array, as_text: AsText) -> pa.Array:
    arrow_type = ARROW_TYPES[ColumnType.DECIMAL]

    def vectorised(values):
        try:
            # Exact when every value has at most two places and fits: nothing to round (the
            # usual case, and rounding is the costliest step of typing a report).
            return pc.cast(values, arrow_type)
        except pa.ArrowInvalid:
            working = pc.cast(values, _DECIMAL_WORKING)
            return pc.cast(pc.round(working, ndigits=2, round_mode="half_towards_infinity"), arrow_type)

    # What the cast accepts beyond the rule: an exponent.
    direct = None if _holds(raw, b"e", b"E") else _direct(raw, vectorised)
    if direct is not None:
        return direct
    return _vectorised_or_each(_valid(as_text(raw), _DECIMAL), vectorised, _parse_decimal, arrow_type)


def _parse_decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        rounded = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return rounded if abs(rounded) < _DECIMAL_LIMIT else None


def _integer(raw: pa.Array, as_text: AsText) -> pa.Array:
    arrow_type = ARROW_TYPES[ColumnType.INTEGER]

    def vectorised(values):
        return pc.cast(values, arrow_type)

    # What the cast accepts beyond the rule: hexadecimal (0x10).
    direct = None if _holds(raw, b"x", b"X") else _direct(raw, vectorised)
    if direct is not None:
        return direct
    return _vectorised_or_each(_valid(as_text(raw), _INTEGER), vectorised, _parse_integer, arrow_type)


def _parse_integer(value: str | None) -> int | None:
    if value is None:
        return None
    number = int(value)
    return number if _INT32[0] <= number <= _INT32[1] else None


_CASTS: dict[ColumnType, Callable[[pa.Array, AsText], pa.Array]] = {
    ColumnType.STRING: _string,
    ColumnType.TIMESTAMP: _timestamp,
    ColumnType.DECIMAL: _decimal,
    ColumnType.INTEGER: _integer,
}

"""Report files: deterministic CSV, generated while it is streamed.

The deterministic unit is the UTC day: the rows of (seed, report type, day, rows per day) are
always the same bytes, whatever window asked for them, so a test can compare what landed with
what was served. A window's report is the header line followed by each day's rows that fall in
the window.

Each day is a sequence of *units* (an order and its fee rows, or one user event). Everything of
variable width in a unit comes from a pool of *shapes* drawn once per day from the day's seeded
RNG; everything that must differ per unit (ids, timestamps) has a fixed width and is derived from
the unit's index. So a day's byte length and the byte offset of any unit are arithmetic on the
pool (Content-Length is known before a byte is generated, and a ``Range`` resume seeks straight
to its unit), while memory stays at one pool per stream.

What a report type's columns hold is its entry in ``emulator.report_types`` (see
``emulator.columns``); everything here is the same for every type.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from itertools import chain, cycle, islice
from operator import itemgetter

from bwp_lake.emulator.columns import Draw, Drawn, Key, ReportType, Row, RowKey, Stamp
from bwp_lake.emulator.report_types import REPORTS

HEADER_DRIFTS = ("rename", "add")
# What bad_last_record appends after the day's rows: one record a CSV reader chokes on.
BAD_RECORDS = ("invalid_utf8", "long_line")
# A record longer than any CSV reader's block (pyarrow reads 1 MiB at a time), with no line end.
LONG_LINE_BYTES = 3 * 1024 * 1024
# What header_drift="add" appends to every line: a plausible column the registry does not know.
ADDED_COLUMN = ("marketplaceId", "ATVPDKIKX0DER")

DAY_MS = 86_400_000
_POOL_SIZE = 512  # shapes per day: big enough to look random, small enough to build quickly
_TEXT_BATCH = 64 * 1024  # characters of CSV per yielded chunk
_M59 = (1 << 59) - 1


@dataclass(frozen=True)
class ReportSpec:
    """What one report file holds: a window of one report type, and how it is served."""

    report_type: str
    start: datetime  # inclusive, aware UTC
    end: datetime  # exclusive
    seed: int
    rows_per_day: int
    header_drift: str | None = None
    gzip: bool = False
    empty: bool = False  # a zero-byte file: not even the header line
    bad_last_record: str | None = None  # one of BAD_RECORDS, after the rows


def columns(report_type: str, header_drift: str | None = None) -> tuple[str, ...]:
    names = REPORTS[report_type].names
    if header_drift == "rename":
        return (*names[:-1], _renamed(names[-1]))
    if header_drift == "add":
        return (*names, ADDED_COLUMN[0])
    return names


def _renamed(name: str) -> str:
    """camelCase <-> snake_case: the kind of rename an upstream schema change brings."""
    if "_" in name:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


def csv_field(value: str) -> str:
    """RFC 4180: quote a field holding a comma, a quote or a line break; double its quotes."""
    if any(char in value for char in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def header_line(report_type: str, header_drift: str | None = None) -> str:
    return ",".join(csv_field(name) for name in columns(report_type, header_drift)) + "\n"


def bad_record(spec: ReportSpec) -> bytes:
    """The last record of a report served with ``bad_last_record``: a Latin-1 "café" in the first
    field of a row of the header's width, or one field of LONG_LINE_BYTES with no line end."""
    if spec.bad_last_record == "invalid_utf8":
        return b"caf\xe9" + b"," * (len(columns(spec.report_type, spec.header_drift)) - 1) + b"\n"
    if spec.bad_last_record == "long_line":
        return b"x" * LONG_LINE_BYTES
    return b""


# --- fixed-width pieces -------------------------------------------------------------------------
@cache
def _clock_table() -> tuple[str, ...]:
    """ "HH:MM:SS" for every second of a day: one lookup instead of formatting per row."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))


@cache
def _millis_table() -> tuple[str, ...]:
    return tuple(f".{ms:03d}Z" for ms in range(1000))


def _stamps(ticks: Iterable[int], whole_seconds: bool) -> Iterator[str]:
    """The text of each tick: "HH:MM:SS" of a second, or "HH:MM:SS.mmmZ" of a millisecond."""
    clock = _clock_table()
    if whole_seconds:
        return map(clock.__getitem__, ticks)
    millis = _millis_table()
    return iter([clock[tick // 1000] + millis[tick % 1000] for tick in ticks])


def _stamper(whole_seconds: bool) -> Callable[[int], str]:
    """One tick's text, as ``_stamps`` writes it."""
    if whole_seconds:
        return _clock_table().__getitem__
    return lambda tick: next(_stamps((tick,), False))


def _mixer(seed: int, report_type: str, day: date) -> Callable[[int], int]:
    """A bijection of a unit's global index (its day's and its own): unique ids without remembering any."""
    key, base = random.Random(f"{seed}:{report_type}:units").getrandbits(59), day.toordinal() << 27

    def mix(unit: int) -> int:
        x = (((base + unit) ^ key) * 0x2545F4914F6CDD1D) & _M59
        x ^= x >> 23
        x = (x * 0x5851F42D4C957F2D) & _M59
        return x ^ (x >> 31)

    return mix


# --- one unit, ready to write -------------------------------------------------------------------
@dataclass(frozen=True)
class _Shape:
    """A drawn unit's text with holes for its fixed-width values.

    Writing a unit fills a tuple: its runs of Key values, its Stamp, one Stamp per distinct row
    delay (``delays``), one RowKey value per keyed row (``row_keys``: its make and the row's key),
    then ``literals``; ``pick`` takes the unit's text from that tuple in order, for one ``str.join``.
    """

    size: int
    delays: tuple[int, ...]
    row_keys: tuple[tuple[Callable[[int, int], str], int], ...]
    literals: tuple[str, ...]
    pick: Callable[[tuple[str, ...]], tuple[str, ...]]


class _ShapeWriter:
    """Turns one report type's drawn units into shapes, for one day and header drift."""

    def __init__(self, kind: ReportType, day: date, header_drift: str | None) -> None:
        self._values = tuple(column.value for column in kind.columns)
        # adjacent Key columns are one value, joined once per unit: "orderId,paymentId,fbaOrderId"
        self.key_runs: list[tuple[Callable[[int], str], ...]] = []
        self._run_index: dict[int, int | None] = {}  # Key column -> its run, or None inside one
        for number, value in enumerate(self._values):
            if not isinstance(value, Key):
                continue
            if number and isinstance(self._values[number - 1], Key):
                self.key_runs[-1] += (value.make,)
                self._run_index[number] = None
            else:
                self._run_index[number] = len(self.key_runs)
                self.key_runs.append((value.make,))
        self._widths = tuple(_width(value, kind.whole_seconds) for value in self._values)
        self._day_prefix = day.isoformat() + "T"
        self._stamp_suffix = "Z" if kind.whole_seconds else ""
        self._line_end = f",{ADDED_COLUMN[1]}\n" if header_drift == "add" else "\n"
        self._delayed = any(isinstance(value, Stamp) and value.delayed for value in self._values)
        self.row_values = self._delayed or any(isinstance(value, RowKey) for value in self._values)

    def shape(self, rows: tuple[Row, ...]) -> _Shape:
        stamp_at = len(self.key_runs)
        # each distinct delay is written once per unit: an order's fees share two or three times
        delays = tuple(dict.fromkeys(row.delay for row in rows)) if self._delayed else ()
        first_row_key = stamp_at + 1 + len(delays)
        row_keys: list[tuple[Callable[[int, int], str], int]] = []
        pieces: list[int | str] = []  # text, or the index of a value
        size = 0
        for row in rows:
            drawn = iter(row.values)
            for number, value in enumerate(self._values):
                if number and self._run_index.get(number, 0) is None:
                    size += 1 + self._widths[number]  # "," and the key: inside its run's value
                    continue
                if number:
                    pieces.append(",")
                match value:
                    case Key():
                        pieces.append(self._run_index[number])
                    case Stamp(delayed):
                        at = stamp_at + 1 + delays.index(row.delay) if delayed else stamp_at
                        pieces += [self._day_prefix, at, self._stamp_suffix]
                    case RowKey(make) if row.key is not None:
                        pieces.append(first_row_key + len(row_keys))
                        row_keys.append((make, row.key))
                    case RowKey(absent=absent):
                        pieces.append(absent)
                        continue
                    case Drawn():
                        pieces.append(csv_field(next(drawn)))
                        continue
                size += self._widths[number]
            pieces.append(self._line_end)
        first_literal = first_row_key + len(row_keys)
        literals: list[str] = []
        order: list[int] = []
        for piece in pieces:
            if isinstance(piece, int):
                order.append(piece)
            elif piece:
                size += len(piece)
                if order and order[-1] >= first_literal:  # text after text: one literal
                    literals[-1] += piece
                else:
                    order.append(first_literal + len(literals))
                    literals.append(piece)
        return _Shape(size, delays, tuple(row_keys), tuple(literals), itemgetter(*order))


def _width(value: Key | RowKey | Stamp | Drawn, whole_seconds: bool) -> int:
    """Characters of a fixed-width value (every key of a Key or RowKey is written as wide as key 0)."""
    match value:
        case Key(make):
            return len(make(0))
        case RowKey(make):
            return len(make(0, 0))
        case Stamp():
            return 8 if whole_seconds else 13  # "HH:MM:SS", "HH:MM:SS.mmmZ"
    return 0  # Drawn: its text is a literal of the shape


# --- one day ------------------------------------------------------------------------------------
class _DayPlan:
    """The units of one (report type, seed, day, rows per day) and their byte layout."""

    def __init__(self, kind: ReportType, day: date, seed: int, rows_per_day: int, header_drift: str | None):
        self.day = day
        self._mix = _mixer(seed, kind.name, day)
        self._tick_ms = 1000 if kind.whole_seconds else 1
        self._ticks_per_day = DAY_MS // self._tick_ms
        writer = _ShapeWriter(kind, day, header_drift)
        self._key_runs, self._row_values = writer.key_runs, writer.row_values
        self._whole_seconds, self._stamp = kind.whole_seconds, _stamper(kind.whole_seconds)
        # shapes cycle over units [0, cycled); an optional tail unit closes the day
        drawn, self.cycled, closing = _layout(
            kind, Draw(random.Random(f"{seed}:{kind.name}:{day.isoformat()}"), day, seed), rows_per_day
        )
        self.shapes = [writer.shape(rows) for rows in drawn]
        self.tail = None if closing is None else writer.shape(closing)
        self.units = self.cycled + (1 if self.tail is not None else 0)
        self._slot = self._ticks_per_day // self.units if self.units else 0
        self._prefix = [0]
        for shape in self.shapes:
            self._prefix.append(self._prefix[-1] + shape.size)
        self._cycle_size = self._prefix[-1]
        self._batch_units = max(1, _TEXT_BATCH * len(self.shapes) // max(1, self._cycle_size))

    def tick(self, unit: int) -> int:
        """The unit's timestamp in ticks since midnight; strictly increasing with the index."""
        jitter = self._mix(unit) % self._slot if self._slot else 0
        return unit * self._ticks_per_day // self.units + jitter

    def offset(self, unit: int) -> int:
        """Characters (= bytes: all ASCII) of the day's units before ``unit``."""
        if unit <= self.cycled:
            cycles, within = divmod(unit, len(self.shapes)) if self.shapes else (0, 0)
            return cycles * self._cycle_size + self._prefix[within]
        return self.offset(self.cycled) + self.tail.size

    def unit_range(self, lo_ms: int, hi_ms: int) -> tuple[int, int, int]:
        """Units whose timestamp is in [lo_ms, hi_ms), and the end of that range in ticks."""
        lo_tick, hi_tick = -(-lo_ms // self._tick_ms), -(-hi_ms // self._tick_ms)
        return self._first_at(lo_tick), self._first_at(hi_tick), hi_tick

    def _first_at(self, tick: int) -> int:
        lo, hi = 0, self.units
        while lo < hi:
            mid = (lo + hi) // 2
            if self.tick(mid) < tick:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def unit_at(self, position: int, first: int, stop: int) -> int:
        """The unit in [first, stop) whose bytes hold ``position`` (counted from ``first``)."""
        target = self.offset(first) + position
        lo, hi = first, stop - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.offset(mid) <= target:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def text(self, first: int, stop: int, stop_tick: int) -> Iterator[str]:
        for batch in range(first, stop, self._batch_units):
            yield self._render(batch, min(stop, batch + self._batch_units), stop_tick - 1)

    def _render(self, first: int, stop: int, last_tick: int) -> str:
        # column by column where a value is the unit's (map calls no frame per unit), row by row for the rest
        stamp, per_day, units, slot = self._stamp, self._ticks_per_day, self.units, self._slot
        indexes = range(first, stop)
        mixed = list(map(self._mix, indexes))
        ticks = [unit * per_day // units + (x % slot if slot else 0) for unit, x in zip(indexes, mixed, strict=True)]
        runs = [
            map(",".join, zip(*(map(make, mixed) for make in run), strict=True)) if len(run) > 1 else map(run[0], mixed)
            for run in self._key_runs
        ]
        unit_values = zip(*runs, _stamps(ticks, self._whole_seconds), strict=True)
        within = first % len(self.shapes)
        unit_shapes = chain(
            islice(cycle(self.shapes), within, within + max(0, min(stop, self.cycled) - first)),
            [self.tail] if stop > self.cycled else [],
        )
        if not self._row_values:
            return "".join(
                [
                    "".join(shape.pick(values + shape.literals))
                    for values, shape in zip(unit_values, unit_shapes, strict=True)
                ]
            )
        out: list[str] = []
        append = out.append
        for x, tick, values, shape in zip(mixed, ticks, unit_values, unit_shapes, strict=True):
            row_values = []
            for delay in shape.delays:  # a row's time: never past the window's last tick
                row_values.append(stamp(tick + delay if tick + delay <= last_tick else last_tick))
            for make, key in shape.row_keys:
                row_values.append(make(x, key))
            append("".join(shape.pick(values + tuple(row_values) + shape.literals)))
        return "".join(out)


def _layout(
    kind: ReportType, draw: Draw, rows_per_day: int
) -> tuple[list[tuple[Row, ...]], int, tuple[Row, ...] | None]:
    """(the pool of drawn units, how many units cycle over it, the closing unit or None)."""
    if kind.groups is None:
        return [kind.draw(draw) for _ in range(min(_POOL_SIZE, rows_per_day))], rows_per_day, None
    least, most = kind.groups.min_rows, kind.groups.max_rows
    # units, as many as fit, then one with exactly the rows left (so rows_per_day holds)
    pool = [kind.draw(draw) for _ in range(min(_POOL_SIZE, rows_per_day // least + 1))]
    sizes = [len(rows) for rows in pool]
    cycle_rows = sum(sizes)
    # whole cycles that surely fit, leaving room for any unit plus a closing one; then walk
    cycles = max(0, (rows_per_day - least - most) // cycle_rows) if cycle_rows else 0
    left, cycled = rows_per_day - cycles * cycle_rows, cycles * len(pool)
    while pool:
        rows = sizes[cycled % len(pool)]
        if left - rows != 0 and left - rows < least:
            break
        left, cycled = left - rows, cycled + 1
    return pool, cycled, (kind.groups.closing(draw, left) if left else None)


@lru_cache(maxsize=4)
def _plan(kind: ReportType, day: date, seed: int, rows_per_day: int, header_drift: str | None) -> _DayPlan:
    return _DayPlan(kind, day, seed, rows_per_day, header_drift)


# --- a window -----------------------------------------------------------------------------------
def _ceil_ms(delta: timedelta) -> int:
    return -(-delta // timedelta(milliseconds=1))


def _days(start: datetime, end: datetime) -> Iterator[tuple[date, int, int]]:
    """Each UTC day touching [start, end), with the part of it inside, in ms since midnight."""
    day = start.astimezone(UTC).date()
    while (midnight := datetime.combine(day, time(), UTC)) < end:
        lo, hi = max(0, _ceil_ms(start - midnight)), min(DAY_MS, _ceil_ms(end - midnight))
        if hi > lo:
            yield day, lo, hi
        day += timedelta(days=1)


@lru_cache(maxsize=16_384)
def _day_size(
    kind: ReportType, day: date, seed: int, rows_per_day: int, header_drift: str | None, lo_ms: int, hi_ms: int
) -> int:
    plan = _plan(kind, day, seed, rows_per_day, header_drift)
    first, stop, _ = plan.unit_range(lo_ms, hi_ms)
    return plan.offset(stop) - plan.offset(first)


def report_length(spec: ReportSpec) -> int:
    """Bytes of the file as served (compressed when spec.gzip): the Content-Length."""
    if spec.empty:
        return 0
    if spec.gzip:
        return _gzip_length(spec)
    return (
        len(header_line(spec.report_type, spec.header_drift))
        + len(bad_record(spec))
        + sum(
            _day_size(REPORTS[spec.report_type], day, spec.seed, spec.rows_per_day, spec.header_drift, lo, hi)
            for day, lo, hi in _days(spec.start, spec.end)
        )
    )


@lru_cache(maxsize=64)
def _gzip_length(spec: ReportSpec) -> int:
    # compressed sizes are not arithmetic: compress once, remember the size
    return sum(len(chunk) for chunk in _gzipped(_plain(replace(spec, gzip=False), 0)))


def stream(spec: ReportSpec, offset: int = 0) -> Iterator[bytes]:
    """The file's bytes from ``offset`` on, in chunks of about 64 KiB, generated as they go."""
    if spec.empty:
        return
    if not spec.gzip:
        yield from _plain(spec, offset)
        return
    for chunk in _gzipped(_plain(replace(spec, gzip=False), 0)):
        if offset >= len(chunk):
            offset -= len(chunk)
            continue
        yield chunk[offset:]
        offset = 0


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # a zlib gzip wrapper writes mtime 0: the same input always compresses to the same bytes
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        if compressed := compressor.compress(chunk):
            yield compressed
    yield compressor.flush()


def _plain(spec: ReportSpec, offset: int) -> Iterator[bytes]:
    header, kind = header_line(spec.report_type, spec.header_drift), REPORTS[spec.report_type]
    if offset < len(header):
        yield header[offset:].encode()
        offset = 0
    else:
        offset -= len(header)
    for day, lo, hi in _days(spec.start, spec.end):
        size = _day_size(kind, day, spec.seed, spec.rows_per_day, spec.header_drift, lo, hi)
        if offset >= size:
            offset -= size
            continue
        plan = _plan(kind, day, spec.seed, spec.rows_per_day, spec.header_drift)
        first, stop, stop_tick = plan.unit_range(lo, hi)
        skip = 0
        if offset:
            unit = plan.unit_at(offset, first, stop)
            skip = plan.offset(first) + offset - plan.offset(unit)
            first, offset = unit, 0
        for text in plan.text(first, stop, stop_tick):
            yield text[skip:].encode() if skip else text.encode()
            skip = 0
    if tail := bad_record(spec)[offset:]:
        yield tail


def report_bytes(report_type: str, day: date, seed: int, rows_per_day: int) -> Iterator[bytes]:
    """The one-day report of ``day``: the same bytes as a window of exactly that day is served."""
    midnight = datetime.combine(day, time(), UTC)
    yield from stream(ReportSpec(report_type, midnight, midnight + timedelta(days=1), seed, rows_per_day))

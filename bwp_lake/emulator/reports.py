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
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache

ORDER_FEES_COLUMNS: tuple[str, ...] = (
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
)

# PROVISIONAL: the USER_EVENTS report's columns are not documented. These are the documented
# fields of the events merchants send (sendUserEvents), in a fixed order; replace them here, and
# only here, once a real report has been seen.
USER_EVENTS_COLUMNS: tuple[str, ...] = (
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
)

COLUMNS: dict[str, tuple[str, ...]] = {"ORDER_FEES": ORDER_FEES_COLUMNS, "USER_EVENTS": USER_EVENTS_COLUMNS}
REPORT_TYPES: tuple[str, ...] = tuple(COLUMNS)

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
_M64 = (1 << 64) - 1


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
    names = COLUMNS[report_type]
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
    """"HH:MM:SS" for every second of a day: one lookup instead of formatting per row."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))


@cache
def _millis_table() -> tuple[str, ...]:
    return tuple(f".{ms:03d}Z" for ms in range(1000))


_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE36_PAIRS = tuple(a + b for a in _BASE36 for b in _BASE36)
_LETTER_PAIRS = tuple(a + b for a in _LETTERS for b in _LETTERS)


def _unit_key(seed: int, report_type: str) -> int:
    return random.Random(f"{seed}:{report_type}:units").getrandbits(59)


def _amount(cents: int) -> str:
    """Rounded to the cent and written as the documentation's example writes it: 60, 0.3, 1.44."""
    units, rest = divmod(cents, 100)
    if rest == 0:
        return str(units)
    if rest % 10 == 0:
        return f"{units}.{rest // 10}"
    return f"{units}.{rest:02d}"


# --- one day ------------------------------------------------------------------------------------
class _DayPlan:
    """The units of one (seed, report type, day) and their byte layout.

    A report type says how its shapes are drawn (``_layout``), how long one is (``_size``) and how
    units are written (``_render``); the arithmetic on indexes, times and offsets is shared.
    """

    TICK_MS = 1  # resolution of a unit's timestamp

    def __init__(self, report_type: str, day: date, seed: int, rows_per_day: int, header_drift: str | None):
        self.day = day
        self._rng = random.Random(f"{seed}:{report_type}:{day.isoformat()}")
        self._key = _unit_key(seed, report_type)
        self._base = day.toordinal() << 27
        self._day_prefix = day.isoformat() + "T"
        self._line_end = f",{ADDED_COLUMN[1]}\n" if header_drift == "add" else "\n"
        self._ticks_per_day = DAY_MS // self.TICK_MS
        # shapes cycle over units [0, cycled); an optional tail unit closes the day
        self.shapes, self.cycled, self.tail = self._layout(rows_per_day)
        self.units = self.cycled + (1 if self.tail is not None else 0)
        self._slot = self._ticks_per_day // self.units if self.units else 0
        self._prefix = [0]
        for shape in self.shapes:
            self._prefix.append(self._prefix[-1] + self._size(shape))
        self._cycle_size = self._prefix[-1]
        self._batch_units = max(1, _TEXT_BATCH * len(self.shapes) // max(1, self._cycle_size))

    # layout, per report type
    def _layout(self, rows_per_day: int) -> tuple[list, int, object | None]:
        raise NotImplementedError

    def _size(self, shape) -> int:
        raise NotImplementedError

    def _render(self, first: int, stop: int, stop_tick: int) -> Iterator[str]:
        raise NotImplementedError

    # arithmetic shared by both report types
    def _mix(self, unit: int) -> int:
        """A bijection of the unit's global index: unique ids without remembering any."""
        x = (((self._base + unit) ^ self._key) * 0x2545F4914F6CDD1D) & _M59
        x ^= x >> 23
        x = (x * 0x5851F42D4C957F2D) & _M59
        return x ^ (x >> 31)

    def tick(self, unit: int) -> int:
        """The unit's timestamp in ticks since midnight; strictly increasing with the index."""
        jitter = self._mix(unit) % self._slot if self._slot else 0
        return unit * self._ticks_per_day // self.units + jitter

    def offset(self, unit: int) -> int:
        """Characters (= bytes: all ASCII) of the day's units before ``unit``."""
        if unit <= self.cycled:
            cycles, within = divmod(unit, len(self.shapes)) if self.shapes else (0, 0)
            return cycles * self._cycle_size + self._prefix[within]
        return self.offset(self.cycled) + self._size(self.tail)

    def unit_range(self, lo_ms: int, hi_ms: int) -> tuple[int, int, int]:
        """Units whose timestamp is in [lo_ms, hi_ms), and the end of that range in ticks."""
        lo_tick, hi_tick = -(-lo_ms // self.TICK_MS), -(-hi_ms // self.TICK_MS)
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
            yield from self._render(batch, min(stop, batch + self._batch_units), stop_tick)

    def _shape(self, unit: int):
        return self.tail if unit >= self.cycled else self.shapes[unit % len(self.shapes)]


# ORDER_FEES: one unit is an order with 4-9 fee rows -------------------------------------------------
_FULFILLMENT_FEES = (322, 475, 540, 612, 717, 966, 1130)
_MIN_ORDER_ROWS = 4  # processing, authorization, Prime service, one fulfillment
_MAX_POOL_ORDER_ROWS = 7  # ... plus cross-border and two more shipments


@dataclass(frozen=True)
class _OrderShape:
    rows: tuple[tuple[int, int, str], ...]  # (charge delay in s, shipment index or -1, line tail)


class _OrderFeesDay(_DayPlan):
    TICK_MS = 1000  # the report's timestamps have whole seconds
    # orderId 15, paymentId 27, FBA order id 19, two timestamps of 20, five commas
    _FIXED_ROW_WIDTH = 15 + 27 + 19 + 20 + 20 + 5

    def _layout(self, rows_per_day: int) -> tuple[list, int, object | None]:
        """Orders, as many as fit, then one order with exactly the rows left (so rows_per_day holds)."""
        pool = [self._order(self._rng.random() < 0.12, self._shipments())
                for _ in range(min(_POOL_SIZE, rows_per_day // _MIN_ORDER_ROWS + 1))]
        sizes = [len(shape.rows) for shape in pool]
        cycle_rows = sum(sizes)
        # whole cycles that surely fit, leaving room for any order plus a closing one; then walk
        margin = _MIN_ORDER_ROWS + _MAX_POOL_ORDER_ROWS
        cycles = max(0, (rows_per_day - margin) // cycle_rows) if cycle_rows else 0
        left, cycled = rows_per_day - cycles * cycle_rows, cycles * len(pool)
        while pool:
            rows = sizes[cycled % len(pool)]
            if left - rows != 0 and left - rows < _MIN_ORDER_ROWS:
                break
            left, cycled = left - rows, cycled + 1
        if not left:
            return pool, cycled, None
        # the closing order takes the rows left: several shipments, or (below four rows a day) a cut
        closing = self._order(False, max(1, left - 3))
        return pool, cycled, _OrderShape(closing.rows[:left])

    def _shipments(self) -> int:
        draw = self._rng.random()
        return 1 if draw < 0.78 else 2 if draw < 0.96 else 3

    def _order(self, cross_border: bool, shipments: int) -> _OrderShape:
        rng, end = self._rng, self._line_end
        amount = rng.randint(1_200, 32_000)
        quick = rng.randint(2, 40)  # Amazon Pay fees are charged seconds after the order
        later = rng.randint(1_800, 9 * 3_600)  # Prime fees when it ships, hours later
        rows = [
            (quick, -1, f",ApayProcessingFee,USD,0,{_amount(round(amount * 0.024))},0,0,0{end}"),
            (quick, -1, f",ApayAuthorizationFee,USD,0,0.3,0,0,0{end}"),
        ]
        if cross_border:
            rows.append((quick, -1, f",ApayCrossBorderFee,USD,0,{_amount(round(amount * 0.01))},0,0,0{end}"))
        gross = round(amount * rng.choice((0.04, 0.05, 0.053)))
        tax = round(gross * 0.0825) if rng.random() < 0.1 else 0
        discount = round(gross * rng.uniform(0.02, 0.1)) if rng.random() < 0.3 else 0
        credits = min(gross + tax - discount, rng.randint(50, 250)) if rng.random() < 0.4 else 0
        net = gross + tax - discount - credits
        rows.append((later, -1, f",PrimeServiceFee,USD,{_amount(amount)},{_amount(net)},{_amount(tax)},"
                                f"{_amount(discount)},{_amount(credits)}{end}"))
        for shipment in range(shipments):
            fee = rng.choice(_FULFILLMENT_FEES) * rng.randint(1, 3)
            credited = fee if rng.random() < 0.25 else 0
            rows.append((later + shipment * rng.randint(0, 7_200), shipment,
                         f",PrimeFulfillmentFee,USD,0,{_amount(fee - credited)},0,0,{_amount(credited)}{end}"))
        return _OrderShape(tuple(rows))

    def _size(self, shape: _OrderShape) -> int:
        return sum(self._FIXED_ROW_WIDTH + (3 if ship < 0 else 15) + len(tail) for _, ship, tail in shape.rows)

    def _render(self, first: int, stop: int, stop_tick: int) -> Iterator[str]:
        clock, prefix, mix = _clock_table(), self._day_prefix, self._mix
        pairs36, letter_pairs = _BASE36_PAIRS, _LETTER_PAIRS
        per_day, units, slot, last_second = self._ticks_per_day, self.units, self._slot, stop_tick - 1
        out: list[str] = []
        append = out.append
        for unit in range(first, stop):
            x = mix(unit)
            created_s = unit * per_day // units + (x % slot if slot else 0)
            rest, digits = divmod(x, 1000)
            rest, letters = divmod(rest, 676 * 676)
            order_id = (f"{digits:03d}-{letter_pairs[letters // 676]}{letter_pairs[letters % 676]}-"
                        f"{pairs36[rest // 1_679_616 % 1296]}{pairs36[rest // 1296 % 1296]}{pairs36[rest % 1296]}")
            payment = f"{(x * 0x9E3779B97F4A7C15 + 0x632BE5AB) % 10**20:020d}"
            fba = f"{(x * 0xBF58476D1CE4E5B9) % 10**14:014d}"
            ids = (f"{order_id},P01-{payment[:7]}-{payment[7:14]}-C{payment[14:]},"
                   f"S01-{fba[:7]}-{fba[7:]},")
            created = "," + prefix + clock[created_s] + "Z," + prefix
            for delay, shipment, tail in self._shape(unit).rows:
                charged = created_s + delay
                if charged > last_second:
                    charged = last_second
                ship = "N/A" if shipment < 0 else f"{(x * 0x94D049BB133111EB + shipment) % 10**15:015d}"
                append(ids + ship + created + clock[charged] + "Z" + tail)
        yield "".join(out)


# USER_EVENTS: one unit is one event -------------------------------------------------------------------
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    'Mozilla/5.0 (compatible; "ShopPreview"/2.1; +https://preview.example.com/bot)',
)
_SERVER_AGENT = "bwp-server-sdk/1.4.0 (python/3.11)"
_EVENT_TYPES = (("page-load", 0.5), ("click", 0.75), ("widget-viewed", 0.9), ("bwp-widget-promise-loaded", 1.0))
_SCHEMAS = {
    "page-load": "PageLoadEvent",
    "click": "ClickEvent",
    "widget-viewed": "WidgetViewedEvent",
    "bwp-widget-promise-loaded": "PromiseLoadedEvent",
}
_REFERRERS = ("https://www.google.com/", "https://www.facebook.com/", "https://www.instagram.com/", "")
_WORDS = ("alpine", "linen", "cedar", "harbor", "maple", "summit", "coastal", "meadow", "ember", "willow")
_GOODS = ("tee", "hoodie", "mug", "candle", "tote", "cap", "blanket", "notebook", "bottle", "scarf")


@cache
def _storefront(seed: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The merchant's host and catalog of (sku, url slug): fixed per seed, like a real store."""
    rng = random.Random(f"{seed}:storefront")
    host = f"shop.{rng.choice(_WORDS)}-{rng.choice(_GOODS)}s.example.com"
    catalog = []
    for number in range(48):
        word, good = rng.choice(_WORDS), rng.choice(_GOODS)
        catalog.append((f"SKU-{good[:3].upper()}-{number:04d}", f"{word}-{good}-{number}"))
    return host, tuple(catalog)


class _UserEventsDay(_DayPlan):
    TICK_MS = 1  # eventTime has milliseconds
    _FIXED_ROW_WIDTH = 36 + 24  # eventId (UUID) and eventTime

    def __init__(self, report_type: str, day: date, seed: int, rows_per_day: int, header_drift: str | None):
        self._host, self._catalog = _storefront(seed)
        super().__init__(report_type, day, seed, rows_per_day, header_drift)

    def _layout(self, rows_per_day: int) -> tuple[list, int, object | None]:
        return [self._event() for _ in range(min(_POOL_SIZE, rows_per_day))], rows_per_day, None

    def _event(self) -> tuple[str, str]:
        """The variable-width fields of an event: (",eventType,", ",clientType,...,page_type\\n")."""
        rng, store = self._rng, f"https://{self._host}"
        draw = rng.random()
        event_type = next(name for name, cumulative in _EVENT_TYPES if draw < cumulative)
        sku, slug = rng.choice(self._catalog)
        page_type, url = "PRODUCT_DETAIL", f"{store}/products/{slug}?variant={rng.randint(10**12, 10**13 - 1)}"
        if event_type == "page-load" and rng.random() < 0.45:
            page_type, url = rng.choice((
                ("HOME", f"{store}/"),
                ("COLLECTION", f"{store}/collections/{rng.choice(_GOODS)}s"),
                ("SEARCH", f"{store}/search?q={rng.choice(_WORDS)}&filter=size:m,color:{rng.choice(_WORDS)}"),
                ("CART", f"{store}/cart"),
                ("CHECKOUT", f"{store}/checkouts/{rng.getrandbits(64):016x}"),
            ))
            sku = ""
        if rng.random() < 0.15:
            url += ("&" if "?" in url else "?") + "utm_source=newsletter&utm_content=summer,sale"
        server = rng.random() < 0.08
        referrer = rng.choice(_REFERRERS) if rng.random() < 0.6 else f"{store}/collections/{rng.choice(_GOODS)}s"
        promise = ""
        if event_type == "bwp-widget-promise-loaded":
            promised = self.day + timedelta(days=rng.randint(1, 4))
            promise = f"{promised.isoformat()}T{rng.choice((20, 22, 23)):02d}:00:00Z"
        if rng.random() < 0.9:
            ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        else:
            ip = f"2600:1700:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(12):x}"
        fields = (
            "SERVER_CLIENT" if server else "WEBSITE_CLIENT",
            rng.choice(("1.0.4", "1.1.0", "2.0.1")),
            _SCHEMAS[event_type],
            rng.choice(("1.0", "1.1")),
            ip,
            f"{rng.randint(130, 135)}-{rng.randint(0, 9_999_999):07d}-{rng.randint(0, 9_999_999):07d}",
            _SERVER_AGENT if server else rng.choice(_USER_AGENTS),
            url,
            referrer,
            sku,
            promise,
            page_type,
        )
        return f",{event_type},", "," + ",".join(csv_field(field) for field in fields) + self._line_end

    def _size(self, shape: tuple[str, str]) -> int:
        return self._FIXED_ROW_WIDTH + len(shape[0]) + len(shape[1])

    def _render(self, first: int, stop: int, stop_tick: int) -> Iterator[str]:
        clock, millis, prefix, mix, shapes = _clock_table(), _millis_table(), self._day_prefix, self._mix, self.shapes
        per_day, units, slot, pool = self._ticks_per_day, self.units, self._slot, len(self.shapes)
        out: list[str] = []
        append = out.append
        for unit in range(first, stop):
            x = mix(unit)
            y = (x * 0x9E3779B97F4A7C15 + 0x7F4A7C15) & _M64
            second, milli = divmod(unit * per_day // units + x % slot, 1000)
            # a UUIDv4 whose first 60 bits are x: unique because x is
            h = f"{x:015x}{y:016x}"
            event_id = f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[y & 3]}{h[15:18]}-{h[18:30]}"
            head, rest = shapes[unit % pool]
            append(event_id + head + prefix + clock[second] + millis[milli] + rest)
        yield "".join(out)


_PLANS: dict[str, Callable[..., _DayPlan]] = {"ORDER_FEES": _OrderFeesDay, "USER_EVENTS": _UserEventsDay}


@lru_cache(maxsize=4)
def _plan(report_type: str, day: date, seed: int, rows_per_day: int, header_drift: str | None) -> _DayPlan:
    return _PLANS[report_type](report_type, day, seed, rows_per_day, header_drift)


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
def _day_size(report_type: str, day: date, seed: int, rows_per_day: int, header_drift: str | None,
              lo_ms: int, hi_ms: int) -> int:
    plan = _plan(report_type, day, seed, rows_per_day, header_drift)
    first, stop, _ = plan.unit_range(lo_ms, hi_ms)
    return plan.offset(stop) - plan.offset(first)


def report_length(spec: ReportSpec) -> int:
    """Bytes of the file as served (compressed when spec.gzip): the Content-Length."""
    if spec.empty:
        return 0
    if spec.gzip:
        return _gzip_length(spec)
    return len(header_line(spec.report_type, spec.header_drift)) + len(bad_record(spec)) + sum(
        _day_size(spec.report_type, day, spec.seed, spec.rows_per_day, spec.header_drift, lo, hi)
        for day, lo, hi in _days(spec.start, spec.end)
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
    header = header_line(spec.report_type, spec.header_drift)
    if offset < len(header):
        yield header[offset:].encode()
        offset = 0
    else:
        offset -= len(header)
    for day, lo, hi in _days(spec.start, spec.end):
        size = _day_size(spec.report_type, day, spec.seed, spec.rows_per_day, spec.header_drift, lo, hi)
        if offset >= size:
            offset -= size
            continue
        plan = _plan(spec.report_type, day, spec.seed, spec.rows_per_day, spec.header_drift)
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

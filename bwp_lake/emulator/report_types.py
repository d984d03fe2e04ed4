"""The report types the emulator serves: one ``ReportType`` entry each, in ``REPORTS``.

The columns are written here from the API documentation, independently of the product's
registry: the emulator stands for the upstream, so the two are compared, never shared.
"""

from __future__ import annotations

import random
from datetime import timedelta
from functools import cache

from bwp_lake.emulator.columns import Column, Draw, Drawn, Groups, Key, ReportType, Row, RowKey, Stamp

_M64 = (1 << 64) - 1
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE36_PAIRS = tuple(a + b for a in _BASE36 for b in _BASE36)
_LETTER_PAIRS = tuple(a + b for a in _LETTERS for b in _LETTERS)


# --- ORDER_FEES: one unit is an order with 4-9 fee rows ------------------------------------------------
def _order_id(key: int) -> str:
    """ "322-ABCD-4TTBJ7": three digits, four letters, six base-36 characters."""
    rest, digits = divmod(key, 1000)
    rest, letters = divmod(rest, 676 * 676)
    pairs = _BASE36_PAIRS
    return (
        f"{digits:03d}-{_LETTER_PAIRS[letters // 676]}{_LETTER_PAIRS[letters % 676]}-"
        f"{pairs[rest // 1_679_616 % 1296]}{pairs[rest // 1296 % 1296]}{pairs[rest % 1296]}"
    )


def _payment_id(key: int) -> str:
    digits = f"{(key * 0x9E3779B97F4A7C15 + 0x632BE5AB) % 10**20:020d}"
    return f"P01-{digits[:7]}-{digits[7:14]}-C{digits[14:]}"


def _fba_order_id(key: int) -> str:
    digits = f"{(key * 0xBF58476D1CE4E5B9) % 10**14:014d}"
    return f"S01-{digits[:7]}-{digits[7:]}"


def _shipment_id(key: int, shipment: int) -> str:
    return f"{(key * 0x94D049BB133111EB + shipment) % 10**15:015d}"


def _amount(cents: int) -> str:
    """Rounded to the cent and written as the documentation's example writes it: 60, 0.3, 1.44."""
    units, rest = divmod(cents, 100)
    if rest == 0:
        return str(units)
    if rest % 10 == 0:
        return f"{units}.{rest // 10}"
    return f"{units}.{rest:02d}"


def _fee(
    fee_type: str,
    delay: int,
    fee: int,
    *,
    order: int = 0,
    tax: int = 0,
    discount: int = 0,
    credits: int = 0,
    shipment: int | None = None,
) -> Row:
    """A fee row, amounts in cents: feeType, currencyCode and the five amounts, in column order."""
    amounts = (order, fee, tax, discount, credits)
    return Row((fee_type, "USD", *map(_amount, amounts)), delay, shipment)


_FULFILLMENT_FEES = (322, 475, 540, 612, 717, 966, 1130)
_MIN_ORDER_ROWS = 4  # processing, authorization, Prime service, one fulfillment
_MAX_POOL_ORDER_ROWS = 7  # ... plus cross-border and two more shipments


def _order(draw: Draw, cross_border: bool, shipments: int) -> tuple[Row, ...]:
    rng = draw.rng
    amount = rng.randint(1_200, 32_000)
    quick = rng.randint(2, 40)  # Amazon Pay fees are charged seconds after the order
    later = rng.randint(1_800, 9 * 3_600)  # Prime fees when it ships, hours later
    rows = [_fee("ApayProcessingFee", quick, round(amount * 0.024)), _fee("ApayAuthorizationFee", quick, 30)]
    if cross_border:
        rows.append(_fee("ApayCrossBorderFee", quick, round(amount * 0.01)))
    gross = round(amount * rng.choice((0.04, 0.05, 0.053)))
    tax = round(gross * 0.0825) if rng.random() < 0.1 else 0
    discount = round(gross * rng.uniform(0.02, 0.1)) if rng.random() < 0.3 else 0
    credits = min(gross + tax - discount, rng.randint(50, 250)) if rng.random() < 0.4 else 0
    rows.append(
        _fee(
            "PrimeServiceFee",
            later,
            gross + tax - discount - credits,
            order=amount,
            tax=tax,
            discount=discount,
            credits=credits,
        )
    )
    for shipment in range(shipments):
        fee = rng.choice(_FULFILLMENT_FEES) * rng.randint(1, 3)
        credited = fee if rng.random() < 0.25 else 0
        delay = later + shipment * rng.randint(0, 7_200)
        rows.append(_fee("PrimeFulfillmentFee", delay, fee - credited, credits=credited, shipment=shipment))
    return tuple(rows)


def _any_order(draw: Draw) -> tuple[Row, ...]:
    cross_border = draw.rng.random() < 0.12
    draw_shipments = draw.rng.random()
    shipments = 1 if draw_shipments < 0.78 else 2 if draw_shipments < 0.96 else 3
    return _order(draw, cross_border, shipments)


def _closing_order(draw: Draw, rows: int) -> tuple[Row, ...]:
    """Exactly ``rows`` rows: several shipments, or (below four rows a day) a cut order."""
    return _order(draw, False, max(1, rows - 3))[:rows]


ORDER_FEES = ReportType(
    "ORDER_FEES",
    (
        Column("orderId", Key(_order_id)),
        Column("paymentId", Key(_payment_id)),
        Column("sellingPartnerFbaOrderId", Key(_fba_order_id)),
        Column("sellingPartnerFbaShipmentId", RowKey(_shipment_id, absent="N/A")),
        Column("orderCreatedAt", Stamp()),
        Column("feeChargedAt", Stamp(delayed=True)),
        Column("feeType", Drawn()),
        Column("currencyCode", Drawn()),
        Column("primeOrderAmount", Drawn()),
        Column("feeAmount", Drawn()),
        Column("feeTaxAmount", Drawn()),
        Column("feeDiscountsAmount", Drawn()),
        Column("feeCreditsAmount", Drawn()),
    ),
    whole_seconds=True,
    draw_unit=_any_order,
    groups=Groups(_MIN_ORDER_ROWS, _MAX_POOL_ORDER_ROWS, _closing_order),
)


# --- USER_EVENTS: one unit is one event -------------------------------------------------------------------
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


def _event_id(key: int) -> str:
    """A UUIDv4 whose first 60 bits are the key: unique because the key is."""
    mixed = (key * 0x9E3779B97F4A7C15 + 0x7F4A7C15) & _M64
    digits = f"{key:015x}{mixed:016x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[12:15]}-{'89ab'[mixed & 3]}{digits[15:18]}-{digits[18:30]}"


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


def _event(draw: Draw) -> tuple[Row, ...]:
    """The drawn fields of one event, eventType first and then clientType to page_type."""
    host, catalog = _storefront(draw.seed)
    rng, store = draw.rng, f"https://{host}"
    chance = rng.random()
    event_type = next(name for name, cumulative in _EVENT_TYPES if chance < cumulative)
    sku, slug = rng.choice(catalog)
    page_type, url = "PRODUCT_DETAIL", f"{store}/products/{slug}?variant={rng.randint(10**12, 10**13 - 1)}"
    if event_type == "page-load" and rng.random() < 0.45:
        page_type, url = rng.choice(
            (
                ("HOME", f"{store}/"),
                ("COLLECTION", f"{store}/collections/{rng.choice(_GOODS)}s"),
                ("SEARCH", f"{store}/search?q={rng.choice(_WORDS)}&filter=size:m,color:{rng.choice(_WORDS)}"),
                ("CART", f"{store}/cart"),
                ("CHECKOUT", f"{store}/checkouts/{rng.getrandbits(64):016x}"),
            )
        )
        sku = ""
    if rng.random() < 0.15:
        url += ("&" if "?" in url else "?") + "utm_source=newsletter&utm_content=summer,sale"
    server = rng.random() < 0.08
    referrer = rng.choice(_REFERRERS) if rng.random() < 0.6 else f"{store}/collections/{rng.choice(_GOODS)}s"
    promise = ""
    if event_type == "bwp-widget-promise-loaded":
        promised = draw.day + timedelta(days=rng.randint(1, 4))
        promise = f"{promised.isoformat()}T{rng.choice((20, 22, 23)):02d}:00:00Z"
    if rng.random() < 0.9:
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    else:
        ip = f"2600:1700:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(12):x}"
    return (
        Row(
            (
                event_type,
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
        ),
    )


# PROVISIONAL: the USER_EVENTS report's columns are not documented. These are the documented
# fields of the events merchants send (sendUserEvents), in a fixed order; replace them here, and
# only here, once a real report has been seen.
USER_EVENTS = ReportType(
    "USER_EVENTS",
    (
        Column("eventId", Key(_event_id)),
        Column("eventType", Drawn()),
        Column("eventTime", Stamp()),
        *(
            Column(name, Drawn())
            for name in (
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
        ),
    ),
    draw_unit=_event,
)

REPORTS: dict[str, ReportType] = {report.name: report for report in (ORDER_FEES, USER_EVENTS)}

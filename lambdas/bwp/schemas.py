"""The one registry of report columns.

Athena tables, DuckDB views and the landing step's header check all read this module, so a
report type is added (or a column renamed) here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from bwp.errors import UnknownReportType


class ColumnType(str, Enum):
    """Logical types (the values are SQL's); raw tables keep every column as text, the curated
    layer stores each column in its type (``bwp.curated`` has the parsing rules)."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    DECIMAL = "decimal(18,2)"
    INTEGER = "integer"

    @property
    def glue_type(self) -> str:
        """The type's name in a Glue table (Hive DDL spells integer ``int``)."""
        return "int" if self is ColumnType.INTEGER else self.value


# Word starts in camelCase, keeping acronyms together: sellingPartnerFbaOrderId, eventID, HTTPCode.
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    return _WORD_START.sub("_", name).lower()


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str


def column_table(table: str) -> tuple[Column, ...]:
    """Columns written as a table, one a line: the name, its type (a ``ColumnType`` name), a description."""
    columns = []
    for line in table.strip().splitlines():
        name, type_name, *description = line.split(maxsplit=2)
        columns.append(Column(name, ColumnType[type_name], description[0] if description else ""))
    return tuple(columns)


@dataclass(frozen=True)
class ReportSchema:
    report_type: str
    columns: tuple[Column, ...]
    provisional: bool

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def raw_table_name(self) -> str:
        """Raw table name in Glue and DuckDB, e.g. ``order_fees_raw``."""
        return f"{self.report_type.lower()}_raw"

    @property
    def curated_table_name(self) -> str:
        """Typed Parquet table name in Glue and DuckDB, e.g. ``order_fees_curated``."""
        return f"{self.report_type.lower()}_curated"

    @property
    def view_name(self) -> str:
        """Typed view name in Athena and DuckDB, e.g. ``order_fees``."""
        return self.report_type.lower()


# The columns the API documentation lists (View Buy with Prime Fees Charged For Each Order).
ORDER_FEES = ReportSchema(
    report_type="ORDER_FEES",
    provisional=False,
    columns=column_table("""
        orderId                      STRING     Buy with Prime order id
        paymentId                    STRING     Payment transaction id, e.g. the Amazon Pay transaction id
        sellingPartnerFbaOrderId     STRING     Amazon order id (amazon-order-id elsewhere)
        sellingPartnerFbaShipmentId  STRING     Amazon shipment id; N/A unless fulfillment fee
        orderCreatedAt               TIMESTAMP  When the order was placed (ISO-8601 UTC)
        feeChargedAt                 TIMESTAMP  When the fee was charged (ISO-8601 UTC)
        feeType                      STRING     PrimeServiceFee, PrimeFulfillmentFee, ApayProcessingFee, ...
        currencyCode                 STRING     Currency of the amounts
        primeOrderAmount             DECIMAL    Prime items amount; PrimeServiceFee rows only
        feeAmount                    DECIMAL    Fee after tax, discounts and credits
        feeTaxAmount                 DECIMAL    Tax charged on the fee
        feeDiscountsAmount           DECIMAL    Discounts applied to the fee
        feeCreditsAmount             DECIMAL    Credits applied to the fee
    """),
)

# The report's columns are not documented. This schema is built from the documented fields of
# the events merchants send (sendUserEvents) and is replaced once a real report is seen; a
# report whose header differs still lands and is flagged as drift.
USER_EVENTS = ReportSchema(
    report_type="USER_EVENTS",
    provisional=True,
    columns=column_table("""
        eventId                  STRING     UUIDv4 of the event
        eventType                STRING     page-load, click, widget-viewed, bwp-widget-promise-loaded
        eventTime                TIMESTAMP  When the event happened (RFC 3339 UTC)
        clientType               STRING     WEBSITE_CLIENT or SERVER_CLIENT
        clientVersion            STRING     Version of the sending client
        schemaName               STRING     Event schema name
        schemaVersion            STRING     Event schema version
        ip                       STRING     Shopper IP address
        ubid                     STRING     Browser id
        userAgent                STRING     Shopper user agent
        currentUrl               STRING     Page URL
        referrer                 STRING     Referring URL
        product_sku              STRING     Product SKU
        prime_promise_timestamp  TIMESTAMP  Delivery promise shown (RFC 3339 UTC)
        page_type                STRING     Page type
    """),
)

REGISTRY: dict[str, ReportSchema] = {schema.report_type: schema for schema in (ORDER_FEES, USER_EVENTS)}
REPORT_TYPES: tuple[str, ...] = tuple(REGISTRY)


def schema_for(report_type: str) -> ReportSchema:
    try:
        return REGISTRY[report_type]
    except KeyError:
        known = ", ".join(REPORT_TYPES)
        raise UnknownReportType(f"unknown report type {report_type!r}; known: {known}") from None


def report_key(reports_prefix: str, report_type: str, day: str) -> str:
    """Deterministic object key of one (report type, UTC day) partition."""
    return f"{table_location_prefix(reports_prefix, report_type)}dt={day}/{report_type}_{day}.csv.gz"


def curated_key(curated_prefix: str, report_type: str, day: str) -> str:
    """Deterministic object key of one partition's typed Parquet file."""
    return f"{table_location_prefix(curated_prefix, report_type)}dt={day}/{report_type}_{day}.parquet"


def aside_key(aside_prefix: str, report_type: str, day: str, name: str) -> str:
    """Key of an object kept beside the tables for one partition (``staging/``, ``quarantine/``)."""
    return f"{table_location_prefix(aside_prefix, report_type)}dt={day}/{name}"


def manifest_key(manifests_prefix: str, report_type: str, day: str) -> str:
    return f"{manifests_prefix}report_type={report_type}/dt={day}.json"


def table_location_prefix(layer_prefix: str, report_type: str) -> str:
    """A report type's table location under a layer's prefix (``reports/`` or ``curated/``)."""
    return f"{layer_prefix}report_type={report_type}/"

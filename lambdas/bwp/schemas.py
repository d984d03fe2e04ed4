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


@dataclass(frozen=True)
class ReportSchema:
    report_type: str
    columns: tuple[Column, ...]
    provisional: bool

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def table_name(self) -> str:
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
    columns=(
        Column("orderId", ColumnType.STRING, "Buy with Prime order id"),
        Column("paymentId", ColumnType.STRING, "Payment transaction id, e.g. the Amazon Pay transaction id"),
        Column("sellingPartnerFbaOrderId", ColumnType.STRING, "Amazon order id (amazon-order-id elsewhere)"),
        Column("sellingPartnerFbaShipmentId", ColumnType.STRING, "Amazon shipment id; N/A unless fulfillment fee"),
        Column("orderCreatedAt", ColumnType.TIMESTAMP, "When the order was placed (ISO-8601 UTC)"),
        Column("feeChargedAt", ColumnType.TIMESTAMP, "When the fee was charged (ISO-8601 UTC)"),
        Column("feeType", ColumnType.STRING, "PrimeServiceFee, PrimeFulfillmentFee, ApayProcessingFee, ..."),
        Column("currencyCode", ColumnType.STRING, "Currency of the amounts"),
        Column("primeOrderAmount", ColumnType.DECIMAL, "Prime items amount; PrimeServiceFee rows only"),
        Column("feeAmount", ColumnType.DECIMAL, "Fee after tax, discounts and credits"),
        Column("feeTaxAmount", ColumnType.DECIMAL, "Tax charged on the fee"),
        Column("feeDiscountsAmount", ColumnType.DECIMAL, "Discounts applied to the fee"),
        Column("feeCreditsAmount", ColumnType.DECIMAL, "Credits applied to the fee"),
    ),
)

# The report's columns are not documented. This schema is built from the documented fields of
# the events merchants send (sendUserEvents) and is replaced once a real report is seen; a
# report whose header differs still lands and is flagged as drift.
USER_EVENTS = ReportSchema(
    report_type="USER_EVENTS",
    provisional=True,
    columns=(
        Column("eventId", ColumnType.STRING, "UUIDv4 of the event"),
        Column("eventType", ColumnType.STRING, "page-load, click, widget-viewed, bwp-widget-promise-loaded"),
        Column("eventTime", ColumnType.TIMESTAMP, "When the event happened (RFC 3339 UTC)"),
        Column("clientType", ColumnType.STRING, "WEBSITE_CLIENT or SERVER_CLIENT"),
        Column("clientVersion", ColumnType.STRING, "Version of the sending client"),
        Column("schemaName", ColumnType.STRING, "Event schema name"),
        Column("schemaVersion", ColumnType.STRING, "Event schema version"),
        Column("ip", ColumnType.STRING, "Shopper IP address"),
        Column("ubid", ColumnType.STRING, "Browser id"),
        Column("userAgent", ColumnType.STRING, "Shopper user agent"),
        Column("currentUrl", ColumnType.STRING, "Page URL"),
        Column("referrer", ColumnType.STRING, "Referring URL"),
        Column("product_sku", ColumnType.STRING, "Product SKU"),
        Column("prime_promise_timestamp", ColumnType.TIMESTAMP, "Delivery promise shown (RFC 3339 UTC)"),
        Column("page_type", ColumnType.STRING, "Page type"),
    ),
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
    return f"{reports_prefix}report_type={report_type}/dt={day}/{report_type}_{day}.csv.gz"


def curated_key(curated_prefix: str, report_type: str, day: str) -> str:
    """Deterministic object key of one partition's typed Parquet file."""
    return f"{curated_prefix}report_type={report_type}/dt={day}/{report_type}_{day}.parquet"


def manifest_key(manifests_prefix: str, report_type: str, day: str) -> str:
    return f"{manifests_prefix}report_type={report_type}/dt={day}.json"


def table_location_prefix(layer_prefix: str, report_type: str) -> str:
    """A report type's table location under a layer's prefix (``reports/`` or ``curated/``)."""
    return f"{layer_prefix}report_type={report_type}/"

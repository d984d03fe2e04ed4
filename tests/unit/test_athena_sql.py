"""The Athena SQL as text: rendered from the registry, portable to DuckDB, queries over views only."""

import re

import pytest
from bwp.errors import UnknownReportType
from bwp.lake.schemas import REGISTRY, Column, ColumnType, ReportSchema, snake_case

from bwp_lake import athena
from bwp_lake.athena.named import MalformedNamedQuery, _load
from bwp_lake.athena.views import UnsupportedColumnName

VIEW_NAMES = {schema.view_name for schema in REGISTRY.values()}
CURATED_TABLES = {schema.curated_table_name for schema in REGISTRY.values()}

# Functions that exist with the same meaning in Trino (Athena engine v3) and in DuckDB. A new
# function must be checked in both engines first.
PORTABLE_FUNCTIONS = {"nullif", "trim", "try", "try_cast", "cast", "count", "sum", "min", "max"}
# Words followed by "(" that are not calls: keywords and parameterised types.
NOT_CALLS = {"as", "in", "filter", "where", "and", "or", "not", "decimal", "using", "of"}

# DuckDB syntax that Trino rejects or reads differently (unknown functions are caught below).
DUCKDB_ONLY = [r"::", r"\bilike\b", r"//", r"\bexclude\b", r"\bqualify\b", r"\bread_csv\b", r"\bstrptime\b"]


def all_athena_sql():
    views = [sql for _, sql in athena.view_statements("bwp_report_lake")]
    return views + [query.sql for query in athena.named_queries()]


def strip_literals(sql):
    return re.sub(r"'[^']*'", "''", re.sub(r"--[^\n]*", "", sql))


@pytest.mark.parametrize("report_type", sorted(REGISTRY))
def test_every_registry_column_is_read_from_the_curated_table_in_snake_case(report_type):
    # given a report type of the registry
    schema = REGISTRY[report_type]
    # when its view is rendered
    sql = athena.view_sql(report_type)
    # then each column is exposed once under its snake_case name
    for column in schema.columns:
        assert sql.count(f' AS "{snake_case(column.name)}"') == 1
    # and the partitions are kept: the store, the day as text and as a date
    assert '"store",\n    "dt",' in sql and 'try_cast("dt" AS date) AS "report_date"' in sql
    assert sql.startswith(f"CREATE OR REPLACE VIEW {schema.view_name} AS\nSELECT")
    assert sql.endswith(f"FROM {schema.curated_table_name}")


def test_timestamps_are_exposed_as_plain_timestamps_and_other_types_as_stored():
    sql = athena.view_sql("ORDER_FEES")
    assert 'CAST("fee_charged_at" AS timestamp) AS "fee_charged_at"' in sql
    assert '    "fee_amount" AS "fee_amount"' in sql
    assert '    "selling_partner_fba_shipment_id" AS "selling_partner_fba_shipment_id"' in sql


@pytest.mark.parametrize("report_type", sorted(REGISTRY))
def test_curated_table_columns_carry_the_registry_types_in_glue_spelling(report_type):
    columns = athena.curated_table_columns(report_type)
    expected = {
        ColumnType.STRING: "string",
        ColumnType.TIMESTAMP: "timestamp",
        ColumnType.DECIMAL: "decimal(18,2)",
        ColumnType.INTEGER: "int",
    }
    assert columns == [(snake_case(c.name), expected[c.type]) for c in REGISTRY[report_type].columns]


def test_database_qualifies_the_view_and_its_curated_table():
    sql = athena.view_sql("USER_EVENTS", database="bwp_report_lake")
    assert sql.startswith("CREATE OR REPLACE VIEW bwp_report_lake.user_events AS")
    assert sql.endswith("FROM bwp_report_lake.user_events_curated")


def test_a_database_name_that_needs_quoting_is_refused():
    with pytest.raises(ValueError, match="database name"):
        athena.view_sql("ORDER_FEES", database="bwp-lake; DROP")


def test_view_statements_cover_every_registry_type_in_order():
    assert [name for name, _ in athena.view_statements()] == [s.view_name for s in REGISTRY.values()]


def test_unknown_report_type_is_refused():
    with pytest.raises(UnknownReportType):
        athena.view_sql("RETURNS")


def test_raw_table_columns_are_the_registry_names_in_lower_case_all_strings():
    for report_type, schema in REGISTRY.items():
        assert athena.raw_table_columns(report_type) == [(c.name.lower(), "string") for c in schema.columns]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orderId", "order_id"),
        ("sellingPartnerFbaShipmentId", "selling_partner_fba_shipment_id"),
        ("product_sku", "product_sku"),
        ("ip", "ip"),
        ("eventID", "event_id"),
        ("HTTPStatusCode", "http_status_code"),
    ],
)
def test_snake_case(name, expected):
    assert snake_case(name) == expected


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("orderId", "order_id"), "view column names collide: order_id"),
        (("orderId", "OrderID"), "raw column names collide: orderid"),
        # a column named like a partition key would shadow it, in Glue as in DuckDB
        (("orderId", "dt"), "raw column names collide: dt"),
        (("orderId", "store"), "raw column names collide: store"),
        (("orderId", "Report_Date"), "view column names collide: report_date"),
        (("order-id",), "letters, digits and underscores"),
    ],
)
def test_registry_names_that_would_collide_or_break_sql_are_refused(monkeypatch, names, message):
    # given a report type whose column names cannot all become distinct identifiers
    columns = tuple(Column(name, ColumnType.STRING, "") for name in names)
    monkeypatch.setitem(REGISTRY, "BROKEN", ReportSchema("BROKEN", columns, provisional=True))
    # then rendering its tables and view says which names are at fault
    with pytest.raises(UnsupportedColumnName, match=message):
        athena.raw_table_columns("BROKEN")
        athena.view_sql("BROKEN")


def test_named_queries_have_unique_names_and_athena_sized_descriptions():
    queries = athena.named_queries()
    names = {"daily_fees_by_fee_type", "order_fee_reconciliation", "daily_events_by_type"}
    assert {q.name for q in queries} >= names
    assert len({q.name for q in queries}) == len(queries)
    for query in queries:
        assert 0 < len(query.description) <= 1024 and len(query.name) <= 128
        assert f"-- {query.description}" not in query.sql


def test_named_queries_that_aggregate_keep_the_stores_apart():
    # given the ready-made queries: each groups rows, and two stores' figures must never be summed
    for query in athena.named_queries():
        sql = strip_literals(query.sql)
        groupings = re.findall(r"GROUP BY ([^\n]+)", sql)
        assert groupings, query.name
        # then every grouping is per store, and the store is in what the query returns
        assert all(re.match(r"store\b", grouping) for grouping in groupings), query.name
        assert re.search(r"^SELECT\s+store,", sql, flags=re.MULTILINE), query.name


def test_named_queries_read_only_the_typed_views_or_a_curated_table_as_it_was():
    for query in athena.named_queries():
        sql = strip_literals(query.sql)
        ctes = set(re.findall(r"\b(\w+)\s+AS\s*\(", sql, flags=re.IGNORECASE))
        # (a view has no history: time travel reads the curated table itself)
        read = re.findall(
            r"(?<!DISTINCT )\b(?:FROM|JOIN)\s+([\w.\"]+)(\s+FOR\s+TIMESTAMP\s+AS\s+OF)?", sql, re.IGNORECASE
        )
        sources = {name for name, as_of in read if not as_of}
        traveled = {name for name, as_of in read if as_of}
        assert sources, query.name
        assert sources <= VIEW_NAMES | ctes, f"{query.name} reads {sources - VIEW_NAMES - ctes}"
        assert traveled <= CURATED_TABLES, query.name


def test_a_named_query_shows_a_day_as_the_curated_table_held_it_before():
    traveled = [query.name for query in athena.named_queries() if "FOR TIMESTAMP AS OF" in query.sql]
    assert traveled == ["daily_fees_restated"]


def test_athena_sql_uses_no_duckdb_only_syntax():
    for sql in all_athena_sql():
        code = strip_literals(sql).lower()
        for pattern in DUCKDB_ONLY:
            assert not re.search(pattern, code), f"{pattern!r} in:\n{sql}"


def test_athena_sql_calls_only_functions_both_engines_know():
    for sql in all_athena_sql():
        called = {name.lower() for name in re.findall(r"\b([A-Za-z_]\w*)\s*\(", strip_literals(sql))}
        unknown = called - PORTABLE_FUNCTIONS - NOT_CALLS
        assert not unknown, f"check these in Trino and DuckDB first: {sorted(unknown)}"


def test_a_query_file_without_its_description_line_is_refused(tmp_path):
    path = tmp_path / "no_description.sql"
    path.write_text("SELECT 1 FROM order_fees\n")
    with pytest.raises(MalformedNamedQuery, match="no_description.sql"):
        _load(path)


def test_unknown_named_query_lists_the_known_ones():
    with pytest.raises(athena.UnknownNamedQuery, match="daily_fees_by_fee_type"):
        athena.named_query("fees_by_moon_phase")

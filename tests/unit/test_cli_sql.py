"""`bwp-lake sql`: the lake's tables, views and named queries from the command line or a prompt."""

import csv
import io
import json
import re

import pytest
from bwp.lake.schemas import ORDER_FEES, USER_EVENTS

from bwp_lake.cli.main import main
from bwp_lake.local.lake_sql import LakeSql
from tests.unit.test_lake_sql import EVENT_ROWS, NEXT_DAY, NEXT_ROWS, SEED_DAY, SEED_ROWS, write_report

FEES_BY_TYPE = "daily_fees_by_fee_type"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS)
    write_report(root, "ORDER_FEES", NEXT_DAY, ORDER_FEES.column_names, NEXT_ROWS)
    write_report(root, "USER_EVENTS", SEED_DAY, USER_EVENTS.column_names, EVENT_ROWS)
    return root


def sql(lake, *arguments):
    return main(["sql", "--lake-dir", str(lake), *arguments])


def test_one_statement_prints_a_table_of_its_result(lake, capsys):
    code = sql(lake, "SELECT fee_type, count(*) AS lines FROM order_fees WHERE dt = '2024-08-22' GROUP BY 1 ORDER BY 1")
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0].split() == ["fee_type", "┃", "lines"]
    assert [line.split()[::2] for line in lines[2:-1]] == [
        ["ApayAuthorizationFee", "1"],
        ["ApayProcessingFee", "1"],
        ["PrimeFulfillmentFee", "1"],
        ["PrimeServiceFee", "1"],
    ]
    assert lines[-1] == "(4 rows)"


def test_a_named_query_as_json_is_one_line_with_every_row_and_exact_amounts(lake, capsys):
    code = sql(lake, "--query", FEES_BY_TYPE, "--json")
    (line,) = capsys.readouterr().out.splitlines()
    with LakeSql(lake) as opened:
        columns, rows = opened.run_named(FEES_BY_TYPE)
    printed = json.loads(line)
    assert code == 0 and printed["columns"] == columns and len(printed["rows"]) == len(rows)
    fee_amount = columns.index("fee_amount")
    assert [row[fee_amount] for row in printed["rows"]] == [str(row[fee_amount]) for row in rows]
    assert printed["rows"][0][columns.index("report_date")] == "2024-08-22"


def test_csv_has_a_header_and_every_row(lake, capsys):
    code = sql(lake, "SELECT order_id, prime_order_amount FROM order_fees ORDER BY 1, 2", "--csv")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert code == 0 and rows[0] == ["order_id", "prime_order_amount"] and len(rows) == 1 + len(SEED_ROWS + NEXT_ROWS)
    assert ["322-ABCD-4TTBJ7", "60.00"] in rows


def test_list_names_the_views_the_tables_and_the_named_queries(lake, capsys):
    assert sql(lake, "--list") == 0
    out = capsys.readouterr().out.split()
    assert {"order_fees", "order_fees_raw", "user_events_curated", "manifests", f"{FEES_BY_TYPE}:"} <= set(out)


@pytest.mark.parametrize(
    ("statement", "said"),
    [
        ("SELEC 1", 'error: Parser Error: syntax error at or near "SELEC"'),
        ("SELECT * FROM refunds", "error: Catalog Error: Table with name refunds does not exist!"),
        ("SELECT no_such_column FROM order_fees", 'Referenced column "no_such_column" not found'),
    ],
)
def test_a_bad_statement_is_one_line_naming_the_problem_and_exits_non_zero(lake, statement, said, capsys):
    code = sql(lake, statement)
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    (line,) = captured.err.splitlines()
    assert said in line


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--query", "fees_by_moon_phase"], "error: no named query 'fees_by_moon_phase'; known: daily_events_by_type"),
        (["SELECT 1", "--query", FEES_BY_TYPE], "error: give one of SQL, --query NAME or --list"),
    ],
)
def test_bad_flags_are_one_line(lake, arguments, said, capsys):
    code = sql(lake, *arguments)
    err = capsys.readouterr().err
    assert code == 2 and err.splitlines() == [err.splitlines()[0]] and err.startswith(said)


def test_a_missing_lake_directory_is_one_line(tmp_path, capsys):
    code = sql(tmp_path / "nowhere", "SELECT 1")
    assert code == 2 and capsys.readouterr().err == f"error: --lake-dir {tmp_path / 'nowhere'} is not a directory\n"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_a_prompt_runs_statements_ended_by_semicolons_until_quit(lake, capsys, monkeypatch):
    # given a person typing a statement over two lines, a dot command, a mistake, then .quit
    typed = "SELECT 41 + 1\n  AS answer;\n.tables\nSELEC 1;\nSELECT 'after the mistake' AS still;\n.quit\nSELECT 99;\n"
    monkeypatch.setattr("sys.stdin", Terminal(typed))
    code = main(["sql", "--lake-dir", str(lake), "--csv"])
    captured = capsys.readouterr()
    # then each statement ran when its ';' came, the mistake was one line, and nothing ran after .quit
    out = captured.out
    assert "answer\n42\n" in out and "order_fees_raw\n" in out and "still\nafter the mistake\n" in out
    assert "99" not in out and out.count("lake> ") == 5 and out.count("  ..> ") == 1
    assert captured.err.splitlines() == ['error: Parser Error: syntax error at or near "SELEC"']
    assert code == 1


def test_statements_piped_in_run_in_order_and_stop_at_the_first_error(lake, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("SELECT 1 AS one;\nSELECT nope;\nSELECT 3 AS three;\n"))
    code = main(["sql", "--lake-dir", str(lake), "--csv"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == "one\n1\n" and len(captured.err.splitlines()) == 1


def test_a_result_wider_than_the_terminal_prints_one_block_a_row(lake, capsys, monkeypatch):
    # given a terminal 60 columns wide
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "60")
    # when a row wider than that is selected
    code = sql(lake, "SELECT * FROM order_fees WHERE fee_type = 'PrimeFulfillmentFee'")
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out).splitlines()
    # then each column is a line of its own, with its value
    assert code == 0 and out[0].startswith("row 1 ") and max(len(line.rstrip()) for line in out) <= 60
    assert out[1].split() == ["order_id", "322-ABCD-4TTBJ7"]
    assert ["selling_partner_fba_shipment_id", "302199078370301"] in [line.split() for line in out]
    assert out[-1] == "(1 row)"

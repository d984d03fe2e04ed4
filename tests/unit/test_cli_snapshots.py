"""`bwp-lake snapshots`: each curated table's snapshots and the days each replaced, on a lake
directory built by real commits."""

import json

import pytest
from bwp.lake.schemas import ORDER_FEES

from bwp_lake.cli.main import main
from tests.unit.test_lake_sql import NEXT_DAY, SEED_DAY, SEED_ROWS, write_report

OTHER_STORE = "shop-b"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """Fees of two days of shop-a, the first restated; one day of shop-b's fees; no events."""
    root = tmp_path_factory.mktemp("lake")
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS, task="first")
    write_report(root, "ORDER_FEES", NEXT_DAY, ORDER_FEES.column_names, SEED_ROWS, task="next")
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS[1:], task="again")
    write_report(root, "ORDER_FEES", SEED_DAY, ORDER_FEES.column_names, SEED_ROWS, store=OTHER_STORE, task="b")
    return root


def snapshots(lake, *arguments):
    return main(["snapshots", "--lake-dir", str(lake), *arguments])


def test_json_lists_every_snapshot_oldest_first_with_the_days_it_replaced(lake, capsys):
    # when the snapshots are asked for as JSON
    code = snapshots(lake, "--json")
    out = capsys.readouterr().out
    # then it is one line: each table, its snapshots in commit order, the last one current
    assert code == 0 and out.count("\n") == 1
    tables = {table["reportType"]: table for table in json.loads(out)["tables"]}
    fees = tables["ORDER_FEES"]["snapshots"]
    replaced = [[(day["store"], day["day"], day["taskId"]) for day in s["replaced"]] for s in fees]
    assert replaced == [
        [("shop-a", SEED_DAY, "first")],
        [("shop-a", NEXT_DAY, "next")],
        [("shop-a", SEED_DAY, "again")],
        [(OTHER_STORE, SEED_DAY, "b")],
    ]
    assert [s["current"] for s in fees] == [False, False, False, True]
    # (the first commit, into an empty table, is Iceberg's append; the restatement an overwrite)
    assert (fees[0]["operation"], fees[2]["operation"]) == ("append", "overwrite")
    assert [s["committedAt"] for s in fees] == sorted(s["committedAt"] for s in fees)
    assert all(day["rawSha256"] == "0" * 64 for s in fees for day in s["replaced"])
    # and a table no commit has created yet has none
    assert tables["USER_EVENTS"] == {"reportType": "USER_EVENTS", "table": "user_events_curated", "snapshots": []}


def test_a_store_and_a_report_type_narrow_the_list(lake, capsys):
    # when one store's snapshots of one table are asked for
    code = snapshots(lake, "--store", "shop-a", "--report-type", "ORDER_FEES")
    lines = capsys.readouterr().out.splitlines()
    # then only the snapshots that replaced that store's days are listed, with those days
    assert code == 0
    assert lines[0] == "order_fees_curated: 3 snapshot(s) of store shop-a"
    days = [line.split()[:4] for line in lines if line.startswith("    ")]
    assert days == [
        ["shop-a", SEED_DAY, "task", "first"],
        ["shop-a", NEXT_DAY, "task", "next"],
        ["shop-a", SEED_DAY, "task", "again"],
    ]
    assert not any("user_events" in line for line in lines)
    assert "(current)" not in "\n".join(lines)  # the current snapshot is shop-b's


def test_a_lake_without_commits_lists_no_snapshot(tmp_path, capsys):
    # given a lake directory no commit has written to
    assert snapshots(tmp_path) == 0
    assert capsys.readouterr().out.splitlines() == [
        "order_fees_curated: no snapshot yet (created by its first commit)",
        "user_events_curated: no snapshot yet (created by its first commit)",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--report-types", "RETURNS"], "unknown report type(s) RETURNS"),
        (["--store", "Shop A"], "--store 'Shop A' is not a store id"),
    ],
)
def test_a_refused_flag_is_one_line_naming_it(lake, capsys, arguments, message):
    assert snapshots(lake, *arguments) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_lake_dir_that_is_not_a_directory_is_one_line(tmp_path, capsys):
    assert main(["snapshots", "--lake-dir", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"error: --lake-dir {tmp_path / 'nowhere'} is not a directory\n"

"""`bwp-lake status`: a calendar per store and report type of landed, failed and missing days, with rows."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from bwp_lake.cli.main import main
from tests.infra.deployed_lake import (  # noqa: F401 (aws_credentials: autouse fixture)
    REGION,
    STACK,
    aws_credentials,
    deploy_lake,
    land,
    partition,
    remember_failures,
)


def land_rows(lake, report_type: str, day: str, rows: int, store: str = "default") -> None:
    land(lake, partition(report_type, day, store), {"reportType": report_type, "day": day, "rows": rows})


@pytest.fixture
def lake(tmp_path):
    """The store default's ORDER_FEES landed on 2024-08-01 (10 rows) and 2024-08-03 (30 rows); 2024-08-02 failed."""
    land_rows(tmp_path, "ORDER_FEES", "2024-08-01", 10)
    land_rows(tmp_path, "ORDER_FEES", "2024-08-03", 30)
    remember_failures(tmp_path, (partition("ORDER_FEES", "2024-08-02"), "ReportFailed", "FAILED"))
    return tmp_path


def test_a_local_lake_shows_a_month_line_of_marks_the_failure_the_rows_and_totals(lake, capsys):
    # when the status of the first five days of August is asked for
    code = main(
        [
            "status",
            "--lake-dir",
            str(lake),
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-06",
            "--report-types",
            "ORDER_FEES",
        ]
    )
    # then the month's line marks each day by its state, the failure and the rows are named
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "default ORDER_FEES  2 landed, 1 failed, 2 missing of 5 days; newest 2024-08-03; "
        "rows per landed day 10..30 (median 20), 40 in all",
        "         1       5         10        15        20        25        30",
        "2024-08  ■ ✗ ■ □ □",
        "  default ORDER_FEES 2024-08-02 failed: ReportFailed: FAILED",
        "",
        "■ landed  ✗ failed  □ missing",
        "1 store(s) x 1 report type(s) over [2024-08-01, 2024-08-06): 2 landed, 1 failed, 2 missing; 40 rows",
    ]


def test_json_is_one_line_with_every_day_and_the_default_range_is_what_the_local_lake_knows(lake, capsys):
    land_rows(lake, "USER_EVENTS", "2024-07-30", 5)
    # when asked without --from/--to
    code = main(["status", "--lake-dir", str(lake), "--json"])
    # then one JSON line covers the oldest to the newest day the lake knows, per store and report type
    (line,) = capsys.readouterr().out.splitlines()
    status = json.loads(line)
    assert code == 0 and (status["from"], status["to"]) == ("2024-07-30", "2024-08-04")
    (store,) = status["stores"]
    assert store["store"] == "default"
    order_fees, user_events = store["reportTypes"]
    assert order_fees["days"] == [
        {"day": "2024-07-30", "state": "missing"},
        {"day": "2024-07-31", "state": "missing"},
        {"day": "2024-08-01", "state": "landed", "rows": 10},
        {"day": "2024-08-02", "state": "failed", "failure": "ReportFailed: FAILED"},
        {"day": "2024-08-03", "state": "landed", "rows": 30},
    ]
    assert (user_events["landed"], user_events["missing"], user_events["newestDay"]) == (1, 4, "2024-07-30")
    assert status["totals"] == store["totals"] == {"landed": 3, "failed": 1, "missing": 6, "rows": 45}


def test_months_are_lines_and_days_outside_the_range_are_blank(lake, capsys):
    main(
        [
            "status",
            "--lake-dir",
            str(lake),
            "--from",
            "2024-07-30",
            "--to",
            "2024-09-02",
            "--report-types",
            "ORDER_FEES",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    months = [line for line in lines if line[:4] == "2024"]
    assert months == [
        "2024-07" + " " * 60 + "□ □",
        "2024-08  ■ ✗ ■" + " □" * 28,
        "2024-09  □",
    ]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--from", "2024-08-05", "--to", "2024-08-01"], "--from 2024-08-05 is not before 2024-08-01"),
        (["--report-types", "REFUNDS"], "unknown report type(s) REFUNDS"),
    ],
)
def test_bad_arguments_are_named_in_one_line(lake, arguments, said, capsys):
    code = main(["status", "--lake-dir", str(lake), *arguments])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and said in captured.err and len(captured.err.splitlines()) == 1


def test_an_unreadable_manifest_is_named(lake, capsys):
    unreadable = partition("ORDER_FEES", "2024-08-03").manifest_key
    (lake / unreadable).write_text("{not json")
    code = main(["status", "--lake-dir", str(lake), "--from", "2024-08-01", "--to", "2024-08-04"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert f"manifest {unreadable} is not readable JSON" in err


def test_a_missing_lake_directory_is_one_line(tmp_path, capsys):
    code = main(["status", "--lake-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().endswith("is not a directory") and len(err.splitlines()) == 1


@mock_aws
def test_the_deployed_stack_is_read_through_its_bucket_and_state_table(capsys):
    # given a deployed lake with one day landed and one failed
    deploy_lake(b'{"rows": 7}')
    # when its status is asked for
    code = main(
        [
            "status",
            "--stack-name",
            STACK,
            "--region",
            REGION,
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-04",
            "--report-types",
            "ORDER_FEES",
            "--json",
        ]
    )
    # then the rows come from the manifest in S3 and the failure from the state table
    (line,) = capsys.readouterr().out.splitlines()
    assert code == 0
    (store,) = json.loads(line)["stores"]
    assert store["store"] == "default"
    assert store["reportTypes"][0]["days"] == [
        {"day": "2024-08-01", "state": "landed", "rows": 7},
        {"day": "2024-08-02", "state": "failed", "failure": "ReportFailed: task FAILED"},
        {"day": "2024-08-03", "state": "missing"},
    ]


@mock_aws
def test_a_stack_that_is_not_deployed_is_one_line(capsys):
    code = main(["status", "--stack-name", "Nowhere", "--region", REGION])
    err = capsys.readouterr().err
    assert code == 2 and "stack Nowhere not found" in err and len(err.splitlines()) == 1


@pytest.fixture
def two_stores(tmp_path):
    """Store eu's ORDER_FEES landed on 2024-08-01 (10 rows) and failed the 2nd; store us landed the 2nd (20 rows)."""
    land_rows(tmp_path, "ORDER_FEES", "2024-08-01", 10, store="eu")
    land_rows(tmp_path, "ORDER_FEES", "2024-08-02", 20, store="us")
    remember_failures(tmp_path, (partition("ORDER_FEES", "2024-08-02", store="eu"), "ReportFailed", "FAILED"))
    return ["status", "--lake-dir", str(tmp_path), "--from", "2024-08-01", "--to", "2024-08-03"]


def test_each_store_the_lake_knows_has_its_own_calendar(two_stores, capsys):
    # when the status of a lake with two stores is shown
    code = main([*two_stores, "--report-types", "ORDER_FEES"])
    # then each store has its calendar, with its own days, failures and rows
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    labels = "         1       5         10        15        20        25        30"
    assert lines == [
        "eu ORDER_FEES  1 landed, 1 failed, 0 missing of 2 days; newest 2024-08-01; "
        "rows per landed day 10..10 (median 10), 10 in all",
        labels,
        "2024-08  ■ ✗",
        "  eu ORDER_FEES 2024-08-02 failed: ReportFailed: FAILED",
        "",
        "us ORDER_FEES  1 landed, 0 failed, 1 missing of 2 days; newest 2024-08-02; "
        "rows per landed day 20..20 (median 20), 20 in all",
        labels,
        "2024-08  □ ■",
        "",
        "■ landed  ✗ failed  □ missing",
        "2 store(s) x 1 report type(s) over [2024-08-01, 2024-08-03): 2 landed, 1 failed, 1 missing; 30 rows",
    ]
    # and --json groups the report types under each store, with each store's totals
    assert main([*two_stores, "--report-types", "ORDER_FEES", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [(store["store"], store["totals"]) for store in status["stores"]] == [
        ("eu", {"landed": 1, "failed": 1, "missing": 0, "rows": 10}),
        ("us", {"landed": 1, "failed": 0, "missing": 1, "rows": 20}),
    ]
    assert [day["state"] for day in status["stores"][0]["reportTypes"][0]["days"]] == ["landed", "failed"]
    assert status["totals"] == {"landed": 2, "failed": 1, "missing": 1, "rows": 30}


def test_store_keeps_only_the_named_store(two_stores, capsys):
    # when only the store eu is asked for
    code = main([*two_stores, "--report-types", "ORDER_FEES", "--store", "eu"])
    # then only its calendar is shown, and the totals are its own
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split("  ")[0] for line in lines if line.startswith(("eu", "us"))] == ["eu ORDER_FEES"]
    assert (
        lines[-1]
        == "1 store(s) x 1 report type(s) over [2024-08-01, 2024-08-03): 1 landed, 1 failed, 0 missing; 10 rows"
    )
    # and --json the same
    assert main([*two_stores, "--report-types", "ORDER_FEES", "--store", "eu", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [store["store"] for store in status["stores"]] == ["eu"]
    assert status["totals"] == {"landed": 1, "failed": 1, "missing": 0, "rows": 10}


def test_a_lake_directory_written_before_stores_shows_as_the_store_default(tmp_path, capsys):
    # given a lake directory in the layout before stores (spelled out: that layout is no longer
    # written): ORDER_FEES landed on the 1st with 4 rows
    old_manifest = tmp_path / "manifests" / "report_type=ORDER_FEES" / "dt=2024-08-01.json"
    old_manifest.parent.mkdir(parents=True)
    old_manifest.write_text(json.dumps({"rows": 4}))
    # when its status is shown
    code = main(["status", "--lake-dir", str(tmp_path), "--report-types", "ORDER_FEES", "--json"])
    # then the day is the store default's, with its rows
    status = json.loads(capsys.readouterr().out)
    assert code == 0 and [store["store"] for store in status["stores"]] == ["default"]
    assert status["stores"][0]["reportTypes"][0]["days"] == [{"day": "2024-08-01", "state": "landed", "rows": 4}]

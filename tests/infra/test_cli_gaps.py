"""`bwp-lake gaps`: each store's missing and failed partitions, from a local lake directory or the deployed stack."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from bwp_lake.cli.main import main
from bwp_lake.local.lake_state import LEGACY_LEDGER_FILE, STATE_FILE
from tests.infra.deployed_lake import (  # noqa: F401 (aws_credentials: autouse fixture)
    REGION,
    STACK,
    aws_credentials,
    deploy_lake,
    land,
    partition,
    remember_failures,
)


def gaps(lake, *arguments: str) -> list[str]:
    return ["gaps", "--lake-dir", str(lake), *arguments]


def test_a_local_lake_lists_each_missing_day_and_the_failure_the_ledger_remembers(tmp_path, capsys):
    # given a lake with ORDER_FEES on the 1st and 3rd, and a ledger that saw the 2nd fail
    for day in ("2024-08-01", "2024-08-03"):
        land(tmp_path, partition("ORDER_FEES", day))
    remember_failures(tmp_path, (partition("ORDER_FEES", "2024-08-02"), "ReportTimedOut", "RUNNING"))
    # when the gaps of the first three days are asked for
    code = main(gaps(tmp_path, "--from", "2024-08-01", "--to", "2024-08-04", "--report-types", "ORDER_FEES"))
    # then the 2nd is named with its store and failure, and the exit status says there are gaps
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out == [
        "default ORDER_FEES 2024-08-02 failed: ReportTimedOut: RUNNING",
        "1 partition(s) missing in [2024-08-01, 2024-08-04) of ORDER_FEES (default 1)",
    ]


def test_consecutive_missing_days_print_as_one_range_and_json_lists_every_day(tmp_path, capsys):
    # given a lake where USER_EVENTS landed on 2024-08-01 only, and ORDER_FEES failed twice alike
    land(tmp_path, partition("USER_EVENTS", "2024-08-01"))
    land(tmp_path, partition("ORDER_FEES", "2024-08-03"))
    remember_failures(
        tmp_path, *[(partition("ORDER_FEES", day), "ReportFailed", "FAILED") for day in ("2024-08-01", "2024-08-02")]
    )
    arguments = gaps(tmp_path, "--from", "2024-08-01", "--to", "2024-10-01")
    # when its gaps over two months are listed
    code = main(arguments)
    # then each run of days missing for one reason is one line
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "default ORDER_FEES 2024-08-01..2024-08-02 failed (2 days): ReportFailed: FAILED",
        "default ORDER_FEES 2024-08-04..2024-09-30 missing (58 days)",
        "default USER_EVENTS 2024-08-02..2024-09-30 missing (60 days)",
        "120 partition(s) missing in [2024-08-01, 2024-10-01) of ORDER_FEES, USER_EVENTS (default 120)",
    ]
    # and --json names every day in one line, and counts them per store
    assert main([*arguments, "--json"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    answer = json.loads(line)
    assert answer["stores"] == {"default": 120}
    assert len(answer["missing"]) == 120
    assert answer["missing"][0] == {
        "store": "default",
        "reportType": "ORDER_FEES",
        "day": "2024-08-01",
        "failure": "ReportFailed: FAILED",
        "quarantineKey": None,
    }
    assert answer["missing"][-1] == {
        "store": "default",
        "reportType": "USER_EVENTS",
        "day": "2024-09-30",
        "failure": None,
        "quarantineKey": None,
    }


def test_a_complete_lake_exits_zero_and_json_is_one_line(tmp_path, capsys):
    land(tmp_path, partition("USER_EVENTS", "2024-08-01"))
    code = main(gaps(tmp_path, "--from", "2024-08-01", "--to", "2024-08-02", "--report-types", "USER_EVENTS", "--json"))
    (line,) = capsys.readouterr().out.splitlines()
    assert code == 0
    assert json.loads(line) == {"from": "2024-08-01", "to": "2024-08-02", "stores": {"default": 0}, "missing": []}


@pytest.fixture
def two_stores(tmp_path):
    """Store eu landed ORDER_FEES on 2024-08-01 and failed the 2nd; store us landed the 2nd only."""
    land(tmp_path, partition("ORDER_FEES", "2024-08-01", store="eu"))
    land(tmp_path, partition("ORDER_FEES", "2024-08-02", store="us"))
    remember_failures(tmp_path, (partition("ORDER_FEES", "2024-08-02", store="eu"), "ReportFailed", "FAILED"))
    return gaps(tmp_path, "--from", "2024-08-01", "--to", "2024-08-03", "--report-types", "ORDER_FEES")


def test_each_store_the_lake_knows_lists_its_own_gaps(two_stores, capsys):
    # when the gaps of a lake with two stores are listed
    code = main(two_stores)
    # then each store's missing days are its own, each line naming its store
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "eu ORDER_FEES 2024-08-02 failed: ReportFailed: FAILED",
        "us ORDER_FEES 2024-08-01 missing",
        "2 partition(s) missing in [2024-08-01, 2024-08-03) of ORDER_FEES (eu 1, us 1)",
    ]
    assert main([*two_stores, "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["stores"] == {"eu": 1, "us": 1}
    assert [(gap["store"], gap["day"], gap["failure"]) for gap in answer["missing"]] == [
        ("eu", "2024-08-02", "ReportFailed: FAILED"),
        ("us", "2024-08-01", None),
    ]


@pytest.mark.parametrize(
    ("store", "listed", "days"),
    [
        (
            "us",
            [
                "us ORDER_FEES 2024-08-01 missing",
                "1 partition(s) missing in [2024-08-01, 2024-08-03) of ORDER_FEES (us 1)",
            ],
            ["2024-08-01"],
        ),
        (  # a store the lake holds nothing of: every day of it
            "apac",
            [
                "apac ORDER_FEES 2024-08-01..2024-08-02 missing (2 days)",
                "2 partition(s) missing in [2024-08-01, 2024-08-03) of ORDER_FEES (apac 2)",
            ],
            ["2024-08-01", "2024-08-02"],
        ),
    ],
)
def test_store_keeps_only_the_named_store(two_stores, store, listed, days, capsys):
    # when only one store is asked for
    code = main([*two_stores, "--store", store])
    # then only its gaps are listed and counted, not the other stores' failures
    assert code == 1
    assert capsys.readouterr().out.splitlines() == listed
    # and --json the same
    assert main([*two_stores, "--store", store, "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["stores"] == {store: len(days)}
    assert [(gap["store"], gap["day"]) for gap in answer["missing"]] == [(store, day) for day in days]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--lake-dir", ".", "--report-types", "REFUNDS"], "unknown report type(s) REFUNDS"),
        (["--lake-dir", ".", "--report-types", ""], "--report-types names no report type"),
        (
            ["--lake-dir", ".", "--from", "2024-08-05", "--to", "2024-08-01"],
            "--from 2024-08-05 is not before 2024-08-01",
        ),
        (["--lake-dir", "/nonexistent/lake"], "is not a directory"),
    ],
)
def test_bad_arguments_are_named_in_one_line(arguments, said, capsys):
    code = main(["gaps", *arguments])
    err = capsys.readouterr().err
    assert code == 2 and said in err and len(err.splitlines()) == 1


@mock_aws
def test_the_deployed_stack_is_read_through_its_bucket_and_state_table(capsys):
    # given a deployed lake with one of two days landed, and a failure in its ledger
    deploy_lake(b"{}")
    # when its gaps are asked for
    code = main(
        [
            "gaps",
            "--stack-name",
            STACK,
            "--region",
            REGION,
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-03",
            "--report-types",
            "ORDER_FEES",
        ]
    )
    # then only the failed day is listed, with its store and cause
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "default ORDER_FEES 2024-08-02 failed: ReportFailed: task FAILED",
        "1 partition(s) missing in [2024-08-01, 2024-08-03) of ORDER_FEES (default 1)",
    ]


def test_a_lake_directory_saved_by_an_earlier_version_keeps_its_failures(tmp_path, capsys):
    # given a lake directory whose state an earlier version saved as _state/ledger.json, before
    # the ledger's keys carried the store (spelled out: that layout is no longer written)
    (tmp_path / LEGACY_LEDGER_FILE).parent.mkdir()
    failed = [{"pk": "WINDOW#ORDER_FEES", "sk": "2024-08-01", "lastError": "ReportFailed", "lastCause": "FAILED"}]
    (tmp_path / LEGACY_LEDGER_FILE).write_text(json.dumps(failed))
    # when its gaps are listed
    code = main(gaps(tmp_path, "--from", "2024-08-01", "--to", "2024-08-02", "--report-types", "ORDER_FEES"))
    # then the failure the ledger remembers is still named, as the store default's
    assert code == 1
    assert capsys.readouterr().out.splitlines()[0] == "default ORDER_FEES 2024-08-01 failed: ReportFailed: FAILED"


def test_a_lake_directory_written_before_stores_is_read_as_the_store_default(tmp_path, capsys):
    # given a lake directory in the layout before stores (spelled out: that layout is no longer
    # written): ORDER_FEES landed on the 1st, its ledger saw the 2nd fail
    old_manifest = tmp_path / "manifests" / "report_type=ORDER_FEES" / "dt=2024-08-01.json"
    old_manifest.parent.mkdir(parents=True)
    old_manifest.write_text("{}")
    (tmp_path / STATE_FILE).parent.mkdir()
    failed = [{"pk": "WINDOW#ORDER_FEES", "sk": "2024-08-02", "lastError": "ReportFailed", "lastCause": "FAILED"}]
    (tmp_path / STATE_FILE).write_text(json.dumps(failed))
    # when its gaps are listed
    code = main(gaps(tmp_path, "--from", "2024-08-01", "--to", "2024-08-04", "--report-types", "ORDER_FEES"))
    # then the landed day is no gap and the failure is the store default's
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "default ORDER_FEES 2024-08-02 failed: ReportFailed: FAILED",
        "default ORDER_FEES 2024-08-03 missing",
        "2 partition(s) missing in [2024-08-01, 2024-08-04) of ORDER_FEES (default 2)",
    ]
    # and the directory now holds them in the store's layout, as a run would have moved them
    assert not old_manifest.exists()
    assert (tmp_path / partition("ORDER_FEES", "2024-08-01").manifest_key).exists()


@mock_aws
def test_a_store_the_stack_serves_that_never_landed_a_day_is_listed_as_missing(capsys):
    # given a deployed lake serving two stores, of which only default has landed anything
    deploy_lake(b"{}", stores=("default", "globex"))
    # when its gaps are asked for without --store
    arguments = ["--stack-name", STACK, "--region", REGION, "--from", "2024-08-01", "--to", "2024-08-03"]
    assert main(["gaps", *arguments, "--report-types", "ORDER_FEES"]) == 1
    # then globex's every day is missing: a store whose runs all fail is not hidden
    out = capsys.readouterr().out.splitlines()
    assert "globex ORDER_FEES 2024-08-01..2024-08-02 missing (2 days)" in out

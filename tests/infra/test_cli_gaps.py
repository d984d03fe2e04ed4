"""`bwp-lake gaps`: missing and failed partitions, from a local lake directory or the deployed stack."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from bwp_lake.cli.main import main
from bwp_lake.local.lake_state import STATE_FILE
from tests.infra.deployed_lake import (  # noqa: F401 (aws_credentials: autouse fixture)
    REGION,
    STACK,
    aws_credentials,
    deploy_lake,
    manifest_key,
)


def test_a_local_lake_lists_each_missing_day_and_the_failure_the_ledger_remembers(tmp_path, capsys):
    # given a lake with ORDER_FEES on the 1st and 3rd, and a ledger that saw the 2nd fail
    for day in ("2024-08-01", "2024-08-03"):
        (tmp_path / manifest_key("ORDER_FEES", day)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / manifest_key("ORDER_FEES", day)).write_text("{}")
    (tmp_path / STATE_FILE).parent.mkdir()
    failed = {"pk": "WINDOW#ORDER_FEES", "sk": "2024-08-02", "lastError": "ReportTimedOut", "lastCause": "RUNNING"}
    (tmp_path / STATE_FILE).write_text(json.dumps([failed]))
    # when the gaps of the first three days are asked for
    code = main(
        [
            "gaps",
            "--lake-dir",
            str(tmp_path),
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-04",
            "--report-types",
            "ORDER_FEES",
        ]
    )
    # then the 2nd is named with its failure, and the exit status says there are gaps
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out == [
        "ORDER_FEES 2024-08-02 failed: ReportTimedOut: RUNNING",
        "1 partition(s) missing in [2024-08-01, 2024-08-04) of ORDER_FEES",
    ]


def test_consecutive_missing_days_print_as_one_range_and_json_lists_every_day(tmp_path, capsys):
    # given a lake where USER_EVENTS landed on 2024-08-01 only, and ORDER_FEES failed twice alike
    (tmp_path / manifest_key("USER_EVENTS", "2024-08-01")).parent.mkdir(parents=True)
    (tmp_path / manifest_key("USER_EVENTS", "2024-08-01")).write_text("{}")
    (tmp_path / manifest_key("ORDER_FEES", "2024-08-03")).parent.mkdir(parents=True)
    (tmp_path / manifest_key("ORDER_FEES", "2024-08-03")).write_text("{}")
    (tmp_path / "_state").mkdir()
    failed = [
        {"pk": "WINDOW#ORDER_FEES", "sk": day, "lastError": "ReportFailed", "lastCause": "FAILED"}
        for day in ("2024-08-01", "2024-08-02")
    ]
    (tmp_path / "_state" / "table.json").write_text(json.dumps(failed))
    arguments = ["gaps", "--lake-dir", str(tmp_path), "--from", "2024-08-01", "--to", "2024-10-01"]
    # when its gaps over two months are listed
    code = main(arguments)
    # then each run of days missing for one reason is one line
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "ORDER_FEES 2024-08-01..2024-08-02 failed (2 days): ReportFailed: FAILED",
        "ORDER_FEES 2024-08-04..2024-09-30 missing (58 days)",
        "USER_EVENTS 2024-08-02..2024-09-30 missing (60 days)",
        "120 partition(s) missing in [2024-08-01, 2024-10-01) of ORDER_FEES, USER_EVENTS",
    ]
    # and --json names every day in one line
    assert main([*arguments, "--json"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    missing = json.loads(line)["missing"]
    assert len(missing) == 120
    assert missing[0] == {
        "reportType": "ORDER_FEES",
        "day": "2024-08-01",
        "failure": "ReportFailed: FAILED",
        "quarantineKey": None,
    }
    assert missing[-1] == {"reportType": "USER_EVENTS", "day": "2024-09-30", "failure": None, "quarantineKey": None}


def test_a_complete_lake_exits_zero_and_json_is_one_line(tmp_path, capsys):
    (tmp_path / manifest_key("USER_EVENTS", "2024-08-01")).parent.mkdir(parents=True)
    (tmp_path / manifest_key("USER_EVENTS", "2024-08-01")).write_text("{}")
    code = main(
        [
            "gaps",
            "--lake-dir",
            str(tmp_path),
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-02",
            "--report-types",
            "USER_EVENTS",
            "--json",
        ]
    )
    (line,) = capsys.readouterr().out.splitlines()
    assert code == 0 and json.loads(line) == {"from": "2024-08-01", "to": "2024-08-02", "missing": []}


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
    # then only the failed day is listed, with its cause
    assert code == 1
    assert capsys.readouterr().out.splitlines() == [
        "ORDER_FEES 2024-08-02 failed: ReportFailed: task FAILED",
        "1 partition(s) missing in [2024-08-01, 2024-08-03) of ORDER_FEES",
    ]


def test_a_lake_directory_saved_by_an_earlier_version_keeps_its_failures(tmp_path, capsys):
    # given a lake directory whose state an earlier version saved as _state/ledger.json
    (tmp_path / "_state").mkdir()
    failed = [{"pk": "WINDOW#ORDER_FEES", "sk": "2024-08-01", "lastError": "ReportFailed", "lastCause": "FAILED"}]
    (tmp_path / "_state" / "ledger.json").write_text(json.dumps(failed))
    # when its gaps are listed
    code = main(
        [
            "gaps",
            "--lake-dir",
            str(tmp_path),
            "--from",
            "2024-08-01",
            "--to",
            "2024-08-02",
            "--report-types",
            "ORDER_FEES",
        ]
    )
    # then the failure the ledger remembers is still named
    assert code == 1
    assert capsys.readouterr().out.splitlines()[0] == "ORDER_FEES 2024-08-01 failed: ReportFailed: FAILED"

"""Every way a command fails before it does anything is one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys

import pytest

from bwp_lake.cli import main as cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    try:
        code = cli.main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err.strip().splitlines()


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize(
    "command", [["start", "--lookback-days", "2"], ["gaps", "--from", "2024-08-01"], ["create-views"]]
)
def test_a_stack_command_without_a_region_says_how_to_give_one(capsys, no_aws_environment, command):
    # given no region anywhere; when a command that drives the stack runs
    code, lines = run(capsys, *command)
    # then one line names the missing region and both ways to give it
    assert code == 1
    assert lines == [
        f"bwp-lake {command[0]}: no AWS region: pass --region, or set AWS_REGION (or a region in your AWS profile)"
    ]


@pytest.mark.parametrize(
    "command", [["start", "--lookback-days", "2"], ["gaps", "--from", "2024-08-01"], ["create-views"]]
)
def test_a_stack_command_without_credentials_says_how_to_give_them(capsys, no_aws_environment, command):
    # given a region but no credentials; when the command runs
    code, lines = run(capsys, *command, "--region", "eu-west-1")
    # then one line says credentials are missing and how to provide them
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"bwp-lake {command[0]}: no AWS credentials: set AWS_PROFILE")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("", "no report type named"),
        (" , ", "no report type named"),
        ("ORDER_FEES,FOO", "unknown FOO; known: ORDER_FEES,USER_EVENTS"),
    ],
)
@pytest.mark.parametrize("command", ["start", "local-run"])
def test_report_types_that_name_nothing_or_an_unknown_type_are_refused(capsys, command, value, expected):
    # given --report-types with nothing or an unknown name; when the command line is parsed
    code, lines = run(capsys, command, "--report-types", value)
    # then the command stops before doing anything, in one line naming the flag
    assert code == 2
    assert len(lines) == 1 and "--report-types" in lines[0] and expected in lines[0], lines


def test_report_types_become_the_execution_input_in_order():
    from bwp_lake.cli.execution_input import report_type_list

    assert report_type_list(" USER_EVENTS , ORDER_FEES") == ["USER_EVENTS", "ORDER_FEES"]


def test_an_unexpected_error_is_one_line_naming_its_kind(capsys, monkeypatch):
    # given a command whose run fails in a way no command answers itself
    from bwp_lake.cli import gaps

    def broken(args):
        raise RuntimeError("disk\nfull")

    monkeypatch.setattr(gaps, "run", broken)
    monkeypatch.delenv(cli.DEBUG_VARIABLE, raising=False)
    # when it runs
    code, lines = run(capsys, "gaps", "--lake-dir", "x", "--from", "2024-08-01")
    # then one line names the error and how to see more, and the exit code is 1
    assert code == 1
    assert lines == [f"bwp-lake gaps: unexpected RuntimeError: disk full (set {cli.DEBUG_VARIABLE}=1 to see where)"]


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    from bwp_lake.cli import gaps

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(gaps, "run", interrupted)
    # when Ctrl-C comes
    code, lines = run(capsys, "gaps", "--lake-dir", "x", "--from", "2024-08-01")
    # then one line and the shell's exit code for SIGINT
    assert (code, lines) == (130, ["bwp-lake gaps: interrupted"])

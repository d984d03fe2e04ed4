"""``bwp-lake start --wait`` following an execution of the real workflow on moto's engine."""

from __future__ import annotations

import boto3

from bwp_lake.cli.start import follow, report_reader
from bwp_lake.local.engine import REGION

REQUEST = {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": "2024-08-22", "endDate": "2024-08-23"}


def follow_to_the_end(engine, counts=None) -> tuple[str, list[str]]:
    lines: list[str] = []
    arn = engine.start(REQUEST)
    status = follow(
        boto3.client("stepfunctions", region_name=REGION),
        arn,
        lines.append,
        read_report=report_reader(engine.s3),
        poll_seconds=0.05,
        timeout_seconds=60,
        counts=(counts.append if counts is not None else lambda counts: None),
    )
    return status, lines


def test_following_prints_the_plan_each_window_and_the_outcome(engine_for):
    # given an execution of the workflow
    engine = engine_for()
    # when it is followed to its end
    status, lines = follow_to_the_end(engine)
    # then the plan, one line per window and the outcome are printed, once each, in order
    assert status == "SUCCEEDED"
    assert lines[0] == "planned 2 windows, 5 at a time"
    assert any(line.startswith("  default ORDER_FEES 2024-08-22: landed 40 rows") for line in lines)
    assert any(line.startswith("  default USER_EVENTS 2024-08-22: landed 40 rows") for line in lines)
    assert lines[-1] == "SUCCEEDED: all 2 windows landed"
    assert len(lines) == len(set(lines))


def test_following_a_failed_execution_names_the_failed_window(engine_for, emulator):
    emulator.set_faults(fail_reports="always")
    status, lines = follow_to_the_end(engine_for())
    assert status == "FAILED"
    assert any("default ORDER_FEES 2024-08-22: FAILED after 3 attempt(s): ReportFailed" in line for line in lines)
    assert lines[-1].startswith(
        "FAILED: WindowsFailed: 2 of 2 windows failed (default: 0 landed, 2 failed): "
        "default ORDER_FEES 2024-08-22 (ReportFailed"
    )


def test_following_an_execution_whose_input_is_refused_ends_with_the_message(engine_for):
    # given an execution started with a number of days written as a string
    engine = engine_for()
    arn = engine.start({"lookbackDays": "3"})
    lines: list[str] = []
    # when it is followed to its end
    status = follow(
        boto3.client("stepfunctions", region_name=REGION),
        arn,
        lines.append,
        read_report=report_reader(engine.s3),
        poll_seconds=0.05,
        timeout_seconds=60,
    )
    # then the last line is the refusal in words, not the Lambda's error JSON
    assert status == "FAILED"
    assert lines[-1] == 'FAILED: InvalidExecutionInput: lookbackDays: must be an integer, got "3"'


def test_following_counts_the_windows_from_the_map_run_apart_from_the_lines(engine_for):
    # given an execution of two windows, followed with a counter
    counts = []
    status, lines = follow_to_the_end(engine_for(), counts)
    # then the counter ends with both done, and no count was printed as a line of its own
    assert status == "SUCCEEDED"
    assert (counts[-1].done, counts[-1].total) == (2, 2)
    assert not any(line.startswith("windows: ") for line in lines)


def test_following_says_each_retry_of_plan_windows_and_names_the_step_that_gave_up(engine_for, emulator):
    # given an API whose every call fails with HTTP 500
    emulator.set_faults(http_500_rate=1.0)
    status, lines = follow_to_the_end(engine_for())
    # then each retry is a line as it happens, numbered against the ASL's five
    assert status == "FAILED"
    retries = [line for line in lines if line.startswith("Plan windows: ApiUnavailable: ")]
    assert [line.rsplit("; ", 1)[1] for line in retries] == [
        f"retry {n} of 5 in up to {5 * 2 ** (n - 1)} s" for n in range(1, 6)
    ]
    # and the outcome names the step and its retries, not an input refusal
    assert lines[-1].startswith("FAILED: Plan windows failed after 5 retries over ")
    assert "ApiUnavailable" in lines[-1] and "refused" not in " ".join(lines)

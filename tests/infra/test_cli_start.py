"""`bwp-lake start` against moto: the stack found by its outputs, the execution started with the
flags' input. Following an execution of the real workflow: tests/workflow/test_follow.py."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bwp_lake.cli import start
from bwp_lake.cli.main import main
from bwp_lake.definition import ASL_PATH
from bwp_lake.infra.outputs import STATE_MACHINE_ARN, STORE_IDS

REGION = "us-east-1"
STACK = "BwpReportLakeTest"
ROLE = "arn:aws:iam::123456789012:role/states"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


def deployed_stack(outputs: dict[str, str]) -> None:
    """A stack in moto's CloudFormation with the given outputs."""
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def any_definition() -> dict[str, Any]:
    """Enough of a workflow for moto to hold; these tests never run it."""
    return {"StartAt": "Plan windows", "States": {"Plan windows": {"Type": "Succeed"}}}


def state_machine(definition: dict[str, Any]) -> str:
    client = boto3.client("stepfunctions", region_name=REGION)
    return client.create_state_machine(name="ingest", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def run_cli(*args: str) -> int:
    return main(["start", "--stack-name", STACK, "--region", REGION, *args])


@mock_aws
def test_start_runs_the_stacks_state_machine_with_the_flags_as_input(capsys):
    # Given a deployed stack whose output names its state machine
    arn = state_machine(any_definition())
    deployed_stack({STATE_MACHINE_ARN: arn, STORE_IDS: "default"})
    # When an ingestion is started for two report types and two days
    code = run_cli("--report-types", "ORDER_FEES,USER_EVENTS", "--start", "2024-08-21", "--end", "2024-08-23")
    # Then one execution of that state machine has exactly that input, and its ARN is printed
    assert code == 0
    client = boto3.client("stepfunctions", region_name=REGION)
    (execution,) = client.list_executions(stateMachineArn=arn)["executions"]
    described = client.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "stores": ["default"],
        "reportTypes": ["ORDER_FEES", "USER_EVENTS"],
        "startDate": "2024-08-21",
        "endDate": "2024-08-23",
    }
    assert execution["executionArn"] in capsys.readouterr().out


@mock_aws
def test_without_the_stack_it_says_to_deploy(capsys):
    assert run_cli("--lookback-days", "2") == 2
    assert "make deploy" in capsys.readouterr().err


@mock_aws
def test_a_stack_without_the_output_is_named_as_such(capsys):
    deployed_stack({"SomethingElse": "x"})
    assert run_cli() == 2
    assert STATE_MACHINE_ARN in capsys.readouterr().err


@mock_aws
def test_following_stops_at_the_timeout_and_says_the_execution_goes_on(capsys):
    # Given an execution that stays RUNNING (moto without its engine never finishes one)
    deployed_stack({STATE_MACHINE_ARN: state_machine(any_definition()), STORE_IDS: "default"})
    # When it is followed for no time at all, then following stops with a clear message
    assert run_cli("--wait", "--timeout-minutes", "0") == 2
    assert "still RUNNING" in capsys.readouterr().err


@mock_aws
def test_without_store_it_starts_one_execution_per_store_the_stack_serves_as_the_schedule_does(capsys):
    # Given a stack serving two stores
    arn = state_machine(any_definition())
    deployed_stack({STATE_MACHINE_ARN: arn, STORE_IDS: "acme,globex"})
    # When an ingestion is started without --store
    assert run_cli("--lookback-days", "2") == 0
    # Then each store has an execution of its own, naming it
    client = boto3.client("stepfunctions", region_name=REGION)
    inputs = [
        json.loads(client.describe_execution(executionArn=e["executionArn"])["input"])
        for e in client.list_executions(stateMachineArn=arn)["executions"]
    ]
    assert sorted(i["stores"] for i in inputs) == [["acme"], ["globex"]]
    assert all(i["lookbackDays"] == 2 for i in inputs)


@mock_aws
def test_a_store_the_stack_does_not_serve_is_refused_before_anything_starts(capsys):
    arn = state_machine(any_definition())
    deployed_stack({STATE_MACHINE_ARN: arn, STORE_IDS: "acme,globex"})
    assert run_cli("--store", "initech") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--store initech: not a store of stack" in err and "acme, globex" in err
    assert boto3.client("stepfunctions", region_name=REGION).list_executions(stateMachineArn=arn)["executions"] == []


def test_the_states_it_reports_on_are_in_the_workflow_definition():
    definition = json.loads(ASL_PATH.read_text())
    names = set()

    def collect(states: dict) -> None:
        for name, state in states.items():
            names.add(name)
            if "ItemProcessor" in state:
                collect(state["ItemProcessor"]["States"])

    collect(definition["States"])
    assert {start.PLAN_STATE, start.SUMMARY_STATE} <= names


class PagedHistory:
    """GetExecutionHistory newest first, in pages, as Step Functions serves it."""

    def __init__(self, events: int, page_size: int) -> None:
        newest_first = [{"id": event_id, "type": "PassStateEntered"} for event_id in range(events, 0, -1)]
        self.pages = [newest_first[i : i + page_size] for i in range(0, events, page_size)]
        self.requests = 0

    def get_execution_history(self, *, executionArn, reverseOrder, maxResults, nextToken=None):
        assert reverseOrder
        self.requests += 1
        index = int(nextToken or 0)
        page = {"events": self.pages[index]}
        if index + 1 < len(self.pages):
            page["nextToken"] = str(index + 1)
        return page


def test_each_look_reads_only_the_pages_with_new_events():
    # Given a long history of which the first 2,400 events were already seen
    history = PagedHistory(events=2_500, page_size=1_000)
    # When the new events are read
    events = start.new_events(history, "arn", after=2_400)
    # Then they are the last hundred, oldest first, read from the newest page alone
    assert [event["id"] for event in events] == list(range(2_401, 2_501))
    assert history.requests == 1


def test_the_first_look_reads_the_whole_history_in_order():
    history = PagedHistory(events=2_500, page_size=1_000)
    events = start.new_events(history, "arn", after=0)
    assert [event["id"] for event in events] == list(range(1, 2_501))
    assert history.requests == 3


def no_report(location):
    raise AssertionError("only the summary's report is read")


def test_events_other_than_the_plan_and_the_summary_print_nothing():
    event = {"stateExitedEventDetails": {"name": "Land report", "output": json.dumps({"rows": 1})}}
    assert start.describe_event(event, no_report) == []


def test_the_plan_line_says_how_many_windows_heal_missing_days_as_local_run_does():
    plan = {"plan": {"bucket": "lake", "key": "_runs/plans/x.json"}, "windows": 5, "maxConcurrency": 5, "backfilled": 3}
    event = {"stateExitedEventDetails": {"name": start.PLAN_STATE, "output": json.dumps(plan)}}
    assert start.describe_event(event, no_report) == ["planned 5 windows (3 of them missing days), 5 at a time"]


SUMMARY_OUTPUT = {
    "report": {"bucket": "lake", "key": "_runs/summaries/x.json"},
    "failures": ["ORDER_FEES 2024-08-22: FAILED after 1 attempt(s): States.Runtime: bad path"],
}


def test_the_summary_prints_every_windows_line_from_the_report_it_points_at():
    # given a summary whose report holds a line per window
    event = {"stateExitedEventDetails": {"name": start.SUMMARY_STATE, "output": json.dumps(SUMMARY_OUTPUT)}}
    reports = {"_runs/summaries/x.json": {"lines": ["ORDER_FEES 2024-08-21: landed 3 rows, 90 bytes"] * 3}}
    # then each line is printed, read from where the summary says
    lines = start.describe_event(event, lambda location: reports[location["key"]])
    assert lines == ["  ORDER_FEES 2024-08-21: landed 3 rows, 90 bytes"] * 3


def test_a_report_that_cannot_be_read_leaves_the_failed_windows_the_summary_names():
    event = {"stateExitedEventDetails": {"name": start.SUMMARY_STATE, "output": json.dumps(SUMMARY_OUTPUT)}}

    def denied(location):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")

    lines = start.describe_event(event, denied)
    assert "s3://lake/_runs/summaries/x.json" in lines[0] and "AccessDenied" in lines[0]
    assert lines[1:] == ["  ORDER_FEES 2024-08-22: FAILED after 1 attempt(s): States.Runtime: bad path"]


@mock_aws
@pytest.mark.parametrize("seconds", ["0", "-1", "soon"])
def test_a_poll_interval_that_would_hammer_the_api_is_refused(capsys, seconds):
    with pytest.raises(SystemExit):
        run_cli("--wait", "--poll-seconds", seconds)
    assert "--poll-seconds" in capsys.readouterr().err


def test_a_failed_execution_reads_as_its_error_and_message_without_the_stack_trace():
    # given an execution failed by a Lambda error: Step Functions carries it as JSON with a stack trace
    cause = {
        "errorType": "InvalidExecutionInput",
        "errorMessage": 'lookbackDays: must be an integer, got "3"',
        "stackTrace": ['  File "/var/task/plan_windows/handler.py", line 13, in handler\n'],
    }
    description = {"status": "FAILED", "error": "InvalidExecutionInput", "cause": json.dumps(cause)}
    # then the outcome line is the error and its message
    expected = 'FAILED: InvalidExecutionInput: lookbackDays: must be an integer, got "3"'
    assert start.describe_outcome(description) == expected


def test_a_failed_execution_with_a_plain_cause_reads_as_it_is():
    cause = "1 of 2 windows failed: ORDER_FEES 2024-08-22"
    description = {"status": "FAILED", "error": "WindowsFailed", "cause": cause}
    assert start.describe_outcome(description) == f"FAILED: WindowsFailed: {cause}"

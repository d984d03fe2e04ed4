"""`bwp-lake start` against moto: the stack found by its outputs, the execution started with the
flags' input, and, with --wait, each window's result printed as the execution goes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cli import start
from cli.main import main
from infra.outputs import STATE_MACHINE_ARN
from statemachine import ASL_PATH

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


def look_alike_definition(*, fail_user_events: bool) -> dict[str, Any]:
    """The real workflow's state names and output shapes, with Pass states instead of Lambdas."""
    last = "Ingestion failed" if fail_user_events else "All windows landed"
    message = "1 of 2 windows failed: USER_EVENTS 2024-08-21 (ReportFailed)" if fail_user_events else "all landed"
    return {
        "StartAt": "Plan windows",
        "States": {
            "Plan windows": {
                "Type": "Pass",
                "Parameters": {"windows.$": "$.reportTypes"},
                "Next": "Ingest each window",
            },
            "Ingest each window": {
                "Type": "Map",
                "ItemsPath": "$.windows",
                "ItemSelector": {"reportType.$": "$$.Map.Item.Value", "day": "2024-08-21"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Route",
                    "States": {
                        "Route": {
                            "Type": "Choice",
                            "Choices": [
                                {
                                    "Variable": "$.reportType",
                                    "StringEquals": "USER_EVENTS" if fail_user_events else "none",
                                    "Next": "Record window failure",
                                }
                            ],
                            "Default": "Land report",
                        },
                        "Land report": {
                            "Type": "Pass",
                            "Parameters": {
                                "reportType.$": "$.reportType",
                                "day.$": "$.day",
                                "rows": 10,
                                "bytesOut": 99,
                            },
                            "End": True,
                        },
                        "Record window failure": {
                            "Type": "Pass",
                            "Parameters": {
                                "status": "FAILED",
                                "window.$": "$",
                                "attempts": 3,
                                "error": "ReportFailed",
                                "cause": "task FAILED",
                            },
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.results",
                "Next": "Summarize",
            },
            "Summarize": {"Type": "Pass", "Result": {"message": message}, "Next": last},
            "Ingestion failed": {"Type": "Fail", "Error": "WindowsFailed", "Cause": message},
            "All windows landed": {"Type": "Succeed"},
        },
    }


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
    arn = state_machine(look_alike_definition(fail_user_events=False))
    deployed_stack({STATE_MACHINE_ARN: arn})
    # When an ingestion is started for two report types and two days
    code = run_cli("--report-types", "ORDER_FEES,USER_EVENTS", "--start", "2024-08-21", "--end", "2024-08-23")
    # Then one execution of that state machine has exactly that input, and its ARN is printed
    assert code == 0
    client = boto3.client("stepfunctions", region_name=REGION)
    (execution,) = client.list_executions(stateMachineArn=arn)["executions"]
    described = client.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
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


@pytest.mark.parametrize("fails", [False, True])
def test_wait_prints_every_window_then_the_outcome(capsys, fails):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        # Given a stack whose workflow lands ORDER_FEES and, in one case, fails USER_EVENTS
        deployed_stack({STATE_MACHINE_ARN: state_machine(look_alike_definition(fail_user_events=fails))})
        # When an ingestion is started and followed
        code = run_cli(
            "--report-types", "ORDER_FEES,USER_EVENTS", "--lookback-days", "1", "--wait", "--poll-seconds", "0.05"
        )
    lines = capsys.readouterr().out.splitlines()
    # Then the plan, each window's result and the outcome are printed, once each, in order
    assert lines[1] == "planned 2 windows"
    assert "ORDER_FEES 2024-08-21: landed 10 rows, 99 bytes" in lines
    if fails:
        assert "USER_EVENTS 2024-08-21: FAILED after 3 attempt(s): ReportFailed: task FAILED" in lines
        assert lines[-1] == "FAILED: WindowsFailed: 1 of 2 windows failed: USER_EVENTS 2024-08-21 (ReportFailed)"
        assert code == 1
    else:
        assert "USER_EVENTS 2024-08-21: landed 10 rows, 99 bytes" in lines
        assert lines[-1].startswith("SUCCEEDED")
        assert code == 0
    assert len(lines) == len(set(lines))


@mock_aws
def test_following_stops_at_the_timeout_and_says_the_execution_goes_on(capsys):
    # Given an execution that stays RUNNING (moto without its engine never finishes one)
    deployed_stack({STATE_MACHINE_ARN: state_machine(look_alike_definition(fail_user_events=False))})
    # When it is followed for no time at all, then following stops with a clear message
    assert run_cli("--wait", "--timeout-minutes", "0") == 2
    assert "still RUNNING" in capsys.readouterr().err


def test_the_states_it_reports_on_are_in_the_workflow_definition():
    definition = json.loads(ASL_PATH.read_text())
    names = set()

    def collect(states: dict) -> None:
        for name, state in states.items():
            names.add(name)
            if "ItemProcessor" in state:
                collect(state["ItemProcessor"]["States"])

    collect(definition["States"])
    assert {start.PLAN_STATE, start.LANDED_STATE, start.FAILED_STATE} <= names


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


def test_a_landing_that_left_through_its_catch_is_not_reported_as_landed():
    event = {
        "stateExitedEventDetails": {
            "name": start.LANDED_STATE,
            "output": json.dumps({"window": {"reportType": "ORDER_FEES"}, "error": {"Error": "SchemaDrift"}}),
        }
    }
    assert start.describe_event(event) is None

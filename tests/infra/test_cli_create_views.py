"""`bwp-lake create-views` against moto's Athena: the deployed view DDL run in the workgroup."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bwp_lake.cli.athena_setup import ViewQueryFailed, ViewQueryTimedOut, run_query
from bwp_lake.cli.main import main
from bwp_lake.infra.outputs import DATABASE, VIEW_QUERY_PREFIX, WORKGROUP

REGION = "us-east-1"
STACK = "BwpReportLakeTest"
VIEWS = {
    "order_fees": "CREATE OR REPLACE VIEW order_fees AS SELECT 1 AS one",
    "user_events": "CREATE OR REPLACE VIEW user_events AS SELECT 2 AS two",
}


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def deployed(named_queries: dict[str, str]) -> None:
    """A stack with its workgroup and database outputs, and these named queries in the workgroup."""
    athena = boto3.client("athena", region_name=REGION)
    athena.create_work_group(Name="lake")
    for name, sql in named_queries.items():
        athena.create_named_query(Name=name, Database="bwp_report_lake", QueryString=sql, WorkGroup="lake")
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {WORKGROUP: {"Value": "lake"}, DATABASE: {"Value": "bwp_report_lake"}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def run_cli() -> int:
    return main(["create-views", "--stack-name", STACK, "--region", REGION])


@mock_aws
def test_each_view_ddl_runs_once_in_the_workgroup_against_the_database(capsys):
    # Given the deployed view DDL next to an ordinary named query
    deployed({**{f"{VIEW_QUERY_PREFIX}{name}": sql for name, sql in VIEWS.items()}, "daily rows": "SELECT 3"})
    # When the views are created
    assert run_cli() == 0
    # Then exactly the view DDL ran, in the stack's workgroup and database
    athena = boto3.client("athena", region_name=REGION)
    ran = [
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        for query_id in athena.list_query_executions(WorkGroup="lake")["QueryExecutionIds"]
    ]
    assert sorted(execution["Query"] for execution in ran) == sorted(VIEWS.values())
    assert {execution["QueryExecutionContext"]["Database"] for execution in ran} == {"bwp_report_lake"}
    assert capsys.readouterr().out.splitlines() == [
        f"view {name}: created in bwp_report_lake" for name in sorted(VIEWS)
    ]


@mock_aws
def test_a_workgroup_without_view_ddl_is_an_error(capsys):
    deployed({"daily rows": "SELECT 3"})
    assert run_cli() == 1
    assert VIEW_QUERY_PREFIX.strip() in capsys.readouterr().err


class ScriptedAthena:
    """Athena answering a fixed sequence of query states."""

    def __init__(self, *states: dict) -> None:
        self.states = list(states)

    def start_query_execution(self, **_):
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"QueryExecution": {"Status": state}}


def test_a_failed_ddl_carries_athenas_reason():
    athena = ScriptedAthena(
        {"State": "RUNNING"}, {"State": "FAILED", "StateChangeReason": "line 1:8: mismatched input"}
    )
    with pytest.raises(ViewQueryFailed, match="mismatched input"):
        run_query(athena, "CREATE VIEW", workgroup="lake", database="db", timeout_seconds=60, sleep=lambda _: None)


def test_a_ddl_still_running_at_the_timeout_stops_the_wait():
    ticks = iter(range(0, 1_000, 10))
    athena = ScriptedAthena({"State": "RUNNING"})
    with pytest.raises(ViewQueryTimedOut, match="still RUNNING"):
        run_query(
            athena,
            "CREATE VIEW",
            workgroup="lake",
            database="db",
            timeout_seconds=30,
            sleep=lambda _: None,
            clock=lambda: next(ticks),
        )

"""The daily schedule, the alarms and the dashboard, as synthesized."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from bwp.lake.contract import REPORT_TYPE_DIMENSION, STORE_DIMENSION
from bwp.observability import NAMESPACE, SERVICE
from bwp.windows import parse_request

from bwp_lake.definition import FUNCTION_PLACEHOLDERS
from tests.infra.support import ALARM_EMAIL

pytestmark = pytest.mark.xdist_group("infra-synth")


@pytest.fixture(scope="module")
def template(synthesized) -> Template:
    return Template.from_json(synthesized.template)


@pytest.fixture(scope="module")
def schedule(synthesized) -> dict:
    (resource,) = synthesized.resources("AWS::Scheduler::Schedule").values()
    return resource["Properties"]


def alarms(synthesized) -> list[dict]:
    return [resource["Properties"] for resource in synthesized.resources("AWS::CloudWatch::Alarm").values()]


def test_schedule_runs_in_utc_on_the_configured_expression(schedule, synthesized):
    assert schedule["ScheduleExpression"] == synthesized.context["scheduleExpression"]
    assert schedule["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert schedule["State"] == "ENABLED"


def test_schedule_starts_the_state_machine_with_the_look_back(schedule, synthesized):
    (state_machine_id,) = synthesized.resources("AWS::StepFunctions::StateMachine")
    target = schedule["Target"]
    assert target["Arn"] == {"Ref": state_machine_id}
    # an input the workflow's first step accepts, asking for what cdk.json configures
    request = parse_request(json.loads(target["Input"]))
    assert request.lookback_days == synthesized.context["lookbackDays"]
    assert json.loads(target["Input"]) == {
        "stores": ["default"],
        "lookbackDays": synthesized.context["lookbackDays"],
        "reportTypes": synthesized.context["reportTypes"],
        "maxConcurrency": synthesized.context["maxConcurrency"],
    }


def test_schedule_retries_a_failed_start_then_parks_it_in_an_encrypted_queue(schedule, synthesized):
    target = schedule["Target"]
    assert 0 < target["RetryPolicy"]["MaximumRetryAttempts"] <= 10
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 24 * 3600
    ((queue_id, queue),) = synthesized.resources("AWS::SQS::Queue").items()
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_the_schedule_may_start_executions_of_this_state_machine_only(synthesized, schedule):
    (state_machine_id,) = synthesized.resources("AWS::StepFunctions::StateMachine")
    role_id = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    starts = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert [s["Resource"] for s in starts] == [{"Ref": state_machine_id}]


def test_alarm_topic_is_encrypted_with_a_rotated_key_and_mails_the_team(template, synthesized):
    ((key_id, key),) = synthesized.resources("AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": ALARM_EMAIL})


def test_cloudwatch_may_use_the_topic_key(synthesized):
    (key,) = synthesized.resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_an_alarm_goes_off_on_any_failed_timed_out_or_aborted_execution(synthesized, metric):
    (state_machine_id,) = synthesized.resources("AWS::StepFunctions::StateMachine")
    (alarm,) = [a for a in alarms(synthesized) if a.get("MetricName") == metric]
    assert alarm["Namespace"] == "AWS/States"
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": state_machine_id}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"]


def test_every_function_has_an_errors_alarm(synthesized):
    errors = [a for a in alarms(synthesized) if a.get("MetricName") == "Errors"]
    watched = {a["Dimensions"][0]["Value"]["Ref"] for a in errors}
    assert watched == set(synthesized.resources("AWS::Lambda::Function"))
    assert len(watched) == len(FUNCTION_PLACEHOLDERS)


def test_a_schedule_dead_letter_raises_an_alarm(synthesized):
    ((queue_id, _),) = synthesized.resources("AWS::SQS::Queue").items()
    (alarm,) = [a for a in alarms(synthesized) if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def series_of(alarm: dict) -> tuple[str, str]:
    """(store, report type) of a per-series alarm's dimensions."""
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    return dimensions[STORE_DIMENSION], dimensions[REPORT_TYPE_DIMENSION]


def test_freshness_alarm_per_report_type_fires_after_26_hours_without_a_landing_and_starts_quiet(synthesized):
    freshness = {series_of(a): a for a in alarms(synthesized) if a.get("MetricName") == "HoursSinceLastLanding"}
    assert set(freshness) == {("default", report_type) for report_type in synthesized.context["reportTypes"]}
    for alarm in freshness.values():
        # The metric each run's Summarize emits, as Powertools names it
        assert alarm["Namespace"] == NAMESPACE
        assert {"Name": "service", "Value": SERVICE} in alarm["Dimensions"]
        # the run's figure over 26 hours is stale; it holds for a day, until the next run's
        assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 86400)
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (26, "GreaterThanThreshold")
        # a new deployment reports no age until it first lands: no data is not breaching
        assert alarm["TreatMissingData"] == "notBreaching"
        # landing again is news too: the all-clear goes to the same topic
        assert alarm["OKActions"] == alarm["AlarmActions"]


def test_gap_alarm_per_report_type_fires_when_two_daily_runs_leave_partitions_missing(synthesized):
    gaps = {series_of(a): a for a in alarms(synthesized) if a.get("MetricName") == "PartitionsMissing"}
    assert set(gaps) == {("default", report_type) for report_type in synthesized.context["reportTypes"]}
    for alarm in gaps.values():
        assert alarm["Namespace"] == NAMESPACE and {"Name": "service", "Value": SERVICE} in alarm["Dimensions"]
        # the best count of each day, two days running, at least one partition missing
        assert (alarm["Statistic"], alarm["Period"]) == ("Minimum", 86400)
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 2
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["OKActions"] == alarm["AlarmActions"]


def test_every_alarm_notifies_the_topic(synthesized):
    (topic_id,) = synthesized.resources("AWS::SNS::Topic")
    for alarm in alarms(synthesized):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], alarm.get("MetricName")


def test_a_dashboard_shows_runs_partitions_and_errors(template):
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    literal = "".join(p for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1] if isinstance(p, str))
    for title in ("Executions", "default: partitions landed per day", "Function errors", "Schedule dead letters"):
        assert f'"title":"{title}"' in literal

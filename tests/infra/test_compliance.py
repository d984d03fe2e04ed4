"""What can be checked without an AWS account: cfn-lint, cdk-nag, and the stack's outputs."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint

from bwp_lake.infra import outputs

pytestmark = pytest.mark.xdist_group("infra-synth")


def test_cfn_lint_finds_no_errors(synthesized):
    matches = lint(json.dumps(synthesized.template), regions=["us-east-1", "eu-west-1"])
    errors = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized):
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    assert (plugin["conclusion"], plugin["violations"]) == ("success", [])


def test_every_acknowledgment_is_on_one_construct_and_says_why(synthesized):
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    for finding in plugin["suppressedViolations"]:
        scope = finding["acknowledgedAt"]
        assert len(finding["reason"]) > 20, finding["ruleName"]
        # never the stack or the app: a construct below it, and only findings inside it
        assert scope.count("/") >= 2, (finding["ruleName"], scope)
        for construct in finding["violatingConstructs"]:
            assert construct["constructPath"].startswith(f"{scope}/"), finding["ruleName"]


def test_outputs_name_the_state_machine_bucket_workgroup_database_and_consoles(synthesized):
    found = synthesized.template["Outputs"]
    (state_machine_id,) = synthesized.resources("AWS::StepFunctions::StateMachine")
    (workgroup_id,) = synthesized.resources("AWS::Athena::WorkGroup")
    assert found[outputs.STATE_MACHINE_ARN]["Value"] == {"Ref": state_machine_id}
    assert found[outputs.WORKGROUP]["Value"] == {"Ref": workgroup_id}
    assert found[outputs.DATABASE]["Value"] == synthesized.context["databaseName"]
    assert found[outputs.DATA_BUCKET]["Value"]["Ref"] in synthesized.resources("AWS::S3::Bucket")
    for console in (outputs.STATE_MACHINE_CONSOLE, outputs.ATHENA_CONSOLE, outputs.DASHBOARD_CONSOLE):
        separator, parts = found[console]["Value"]["Fn::Join"]
        assert parts[0] == "https://" and {"Ref": "AWS::Region"} in parts, console

"""The stack under other configurations: two stores (one secret named, one created), and a missing
Lambda bundle."""

from __future__ import annotations

import json

import pytest
from bwp.lake.contract import REPORT_TYPE_DIMENSION, STORE_DIMENSION
from bwp.windows import parse_request

from tests.infra.support import rendered, stores_of, synth_template

pytestmark = pytest.mark.xdist_group("infra-synth")

SECRET_NAME = "agency/brand-eu/bwp-api"
NAMED = {"id": "brand-eu", "credentialsSecretName": SECRET_NAME, "backfillFrom": "2024-02-01"}
CREATED = {"id": "brand-us", "reportTypes": ["ORDER_FEES"]}
GLOBAL_BACKFILL = "2024-05-01"
CREATED_NAME = "BwpReportLake/brand-us/api-credentials"
API_STEPS = {"plan_windows", "start_report", "check_report", "land_report"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    # synth runs cdk-nag too: the imported secret's grant must be acknowledged as well
    return synth_template(tmp_path_factory, {"stores": [NAMED, CREATED], "backfillFrom": GLOBAL_BACKFILL})


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


@pytest.fixture(scope="module")
def created_secret(template) -> str:
    """The logical id of the one secret the stack creates: brand-us's."""
    (secret_id,) = resources_of(template, "AWS::SecretsManager::Secret")
    return secret_id


def test_the_named_store_s_secret_is_imported_and_the_other_created_under_its_store_s_name(template, created_secret):
    (secret,) = resources_of(template, "AWS::SecretsManager::Secret").values()
    assert secret["Name"] == CREATED_NAME
    # and the functions know each store by its own secret, with its report types
    for function in resources_of(template, "AWS::Lambda::Function").values():
        assert stores_of(function["Environment"]["Variables"]) == [
            {"id": "brand-eu", "secretId": SECRET_NAME, "reportTypes": ["ORDER_FEES", "USER_EVENTS"]},
            {"id": "brand-us", "secretId": f"<{created_secret}>", "reportTypes": ["ORDER_FEES"]},
        ]
    # and the outputs name the stores served, and say which secret is each store's
    assert template["Outputs"]["StoreIds"]["Value"] == "brand-eu,brand-us"
    output = template["Outputs"]["CredentialsSecretNames"]
    assert json.loads(rendered(output["Value"])) == {"brand-eu": SECRET_NAME, "brand-us": CREATED_NAME}
    assert "aws secretsmanager put-secret-value --secret-id" in output["Description"]


def test_each_api_step_may_read_exactly_the_configured_stores_secrets(template, created_secret):
    # given every statement that grants reading a secret, by the function whose role it is in
    roles = {
        function["Role"]["Fn::GetAtt"][0]: function["Handler"].split(".")[0]
        for function in resources_of(template, "AWS::Lambda::Function").values()
    }
    reads = {}
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        (role,) = [reference["Ref"] for reference in policy["Roles"]]
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(action.startswith("secretsmanager:") for action in actions):
                assert actions == ["secretsmanager:GetSecretValue"]
                reads.setdefault(roles.get(role, role), []).extend(
                    rendered(resource) for resource in statement["Resource"]
                )
    # then each step that calls the API reads both stores' secrets and nothing else: the created
    # one by its ARN, the imported one by its name's ARN (whose six random characters the pattern
    # stands for), never a wildcard over other secrets
    named_arn = f"arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:{SECRET_NAME}-??????"
    assert set(reads) == API_STEPS
    for step, secrets in reads.items():
        assert sorted(secrets) == sorted([f"<{created_secret}>", named_arn]), step


def test_each_store_has_its_own_schedule_starting_an_execution_for_it_alone(template):
    inputs = {}
    for schedule in resources_of(template, "AWS::Scheduler::Schedule").values():
        scheduled = json.loads(schedule["Target"]["Input"])
        parse_request(scheduled)  # an input Plan windows accepts
        (store,) = scheduled["stores"]
        inputs[store] = scheduled
    # each with its own report types and backfillFrom (its own, or the global one)
    assert inputs == {
        "brand-eu": {
            "stores": ["brand-eu"],
            "lookbackDays": 3,
            "reportTypes": ["ORDER_FEES", "USER_EVENTS"],
            "maxConcurrency": 5,
            "backfillFrom": "2024-02-01",
            "maxBackfillWindows": 30,
        },
        "brand-us": {
            "stores": ["brand-us"],
            "lookbackDays": 3,
            "reportTypes": ["ORDER_FEES"],
            "maxConcurrency": 5,
            "backfillFrom": GLOBAL_BACKFILL,
            "maxBackfillWindows": 30,
        },
    }


def test_every_table_projects_the_configured_stores(template):
    tables = [table["TableInput"] for table in resources_of(template, "AWS::Glue::Table").values()]
    assert tables
    for table in tables:
        assert table["PartitionKeys"][0]["Name"] == "store"
        assert table["Parameters"]["projection.store.type"] == "enum"
        assert table["Parameters"]["projection.store.values"] == "brand-eu,brand-us", table["Name"]


def test_freshness_and_gap_alarms_watch_each_store_s_report_types(template):
    watched = {}
    for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values():
        if alarm.get("MetricName") in ("HoursSinceLastLanding", "PartitionsMissing"):
            dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            series = (dimensions[STORE_DIMENSION], dimensions[REPORT_TYPE_DIMENSION])
            watched.setdefault(alarm["MetricName"], set()).add(series)
            assert dimensions[STORE_DIMENSION] in alarm["AlarmDescription"]
    expected = {("brand-eu", "ORDER_FEES"), ("brand-eu", "USER_EVENTS"), ("brand-us", "ORDER_FEES")}
    assert watched == {"HoursSinceLastLanding": expected, "PartitionsMissing": expected}


def test_the_dashboard_has_a_row_per_store(template):
    (dashboard,) = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body = rendered(dashboard["DashboardBody"])
    for store in ("brand-eu", "brand-us"):
        assert f'"title":"{store}: partitions landed per day"' in body


def test_synth_without_the_bundle_says_to_run_make_build(tmp_path):
    import app
    from bwp_lake.infra.workflow import LambdaBundleMissing

    with pytest.raises(LambdaBundleMissing, match="run `make build` first"):
        app.build_app(context={"lambdaAssetDir": str(tmp_path / "missing")}, outdir=str(tmp_path / "out"))

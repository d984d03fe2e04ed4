"""The functions, their grants and the state machine, as synthesized."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bwp.lake.settings import Settings

from bwp_lake.definition import ASL_PATH, BUCKET_PLACEHOLDER, FUNCTION_PLACEHOLDERS
from bwp_lake.infra.workflow import LAMBDA_RUNTIME
from tests.infra.support import rendered, stores_of

pytestmark = pytest.mark.xdist_group("infra-synth")

REPO = Path(__file__).resolve().parents[2]
# Which steps talk to the API (Plan windows checks the credentials).
READS_CREDENTIALS = {"plan_windows", "start_report", "check_report", "land_report"}


@pytest.fixture(scope="module")
def functions(synthesized) -> dict[str, tuple[str, dict]]:
    """step -> (logical id, properties), the step read from each function's handler."""
    found = {}
    for logical_id, resource in synthesized.resources("AWS::Lambda::Function").items():
        properties = resource["Properties"]
        found[properties["Handler"].split(".")[0]] = (logical_id, properties)
    return found


def role_statements(synthesized, role_arn: dict) -> list[dict]:
    role_id = role_arn["Fn::GetAtt"][0]
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def resources(statement: dict) -> list:
    return statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]


def test_one_function_per_step_on_arm64_with_the_current_python(functions):
    assert set(functions) == set(FUNCTION_PLACEHOLDERS.values())
    for step, (_, properties) in functions.items():
        assert properties["Handler"] == f"{step}.handler.handler"
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == LAMBDA_RUNTIME.name
        assert properties["TracingConfig"] == {"Mode": "Active"}


def test_make_build_installs_wheels_for_the_functions_python():
    version = LAMBDA_RUNTIME.name.removeprefix("python")
    assert f"--python-version {version}" in (REPO / "Makefile").read_text()


def test_only_landing_and_the_commit_run_from_the_bundles_with_pyarrow_and_pyiceberg(functions):
    # given the three bundles (the stand-ins carry pyarrow's and pyiceberg's markers, as make build's do)
    code = {step: properties["Code"]["S3Key"] for step, (_, properties) in functions.items()}
    # then land_report and commit_curated each have an asset of their own and the others share the smallest
    others = {key for step, key in code.items() if step not in ("land_report", "commit_curated")}
    assert len(others) == 1
    assert len({code["land_report"], code["commit_curated"], *others}) == 3


def test_landing_and_the_commit_may_run_fifteen_minutes_and_the_other_steps_are_short(functions):
    timeouts = {step: properties["Timeout"] for step, (_, properties) in functions.items()}
    assert timeouts.pop("land_report") == 900
    assert timeouts.pop("commit_curated") == 900
    assert all(seconds <= 300 for seconds in timeouts.values()), timeouts


def test_every_function_logs_to_its_own_group_with_retention(synthesized, functions):
    groups = synthesized.resources("AWS::Logs::LogGroup")
    for step, (_, properties) in functions.items():
        group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group_id]["Properties"]["RetentionInDays"] > 0, step


def test_the_environment_is_a_valid_settings_model(functions, synthesized):
    # Given each function's environment, with CloudFormation references resolved to plausible values
    for step, (_, properties) in functions.items():
        environment = {name: rendered(value) for name, value in properties["Environment"]["Variables"].items()}
        # When the Lambda code reads its settings, then it accepts them
        settings = Settings.from_env(environment)
        assert str(settings.api_base_url).rstrip("/") == synthesized.context["apiBaseUrl"]
        assert settings.download_host_allowlist == tuple(synthesized.context["downloadHostAllowlist"])
        # and in AWS every download link must be https
        assert not settings.download_plain_http_on_loopback, step
        aliases = {field.alias for field in Settings.model_fields.values()}
        powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
        assert set(environment) <= aliases | powertools, step


def test_environment_points_at_the_stack_bucket_and_secret(functions, synthesized):
    (secret_id,) = synthesized.resources("AWS::SecretsManager::Secret")
    (_, properties) = functions["land_report"]
    variables = properties["Environment"]["Variables"]
    # without stores configured: the one store "default", its secret the one the stack created
    assert stores_of(variables) == [
        {"id": "default", "secretId": f"<{secret_id}>", "reportTypes": synthesized.context["reportTypes"]}
    ]
    assert variables["LAKE_BUCKET"]["Ref"].startswith("StorageData")
    assert variables["POWERTOOLS_SERVICE_NAME"] == "bwp-report-lake"
    # and no key prefix: the functions, the Glue tables and the grants read the one layout of the contract
    assert [name for name in variables if name.endswith("_PREFIX")] == []


def test_only_the_api_steps_can_read_the_credentials(synthesized, functions):
    (secret_id,) = synthesized.resources("AWS::SecretsManager::Secret")
    readers = {
        step
        for step, (_, properties) in functions.items()
        for statement in role_statements(synthesized, properties["Role"])
        if "secretsmanager:GetSecretValue" in actions(statement)
    }
    assert readers == READS_CREDENTIALS
    for step in readers:
        (statement,) = [
            s
            for s in role_statements(synthesized, functions[step][1]["Role"])
            if "secretsmanager:GetSecretValue" in actions(s)
        ]
        assert statement["Resource"] == {"Ref": secret_id}


def test_a_deployment_without_stores_keeps_the_secret_it_had_before_stores_with_its_fields_empty(synthesized):
    # given the stack of a deployment that names no stores
    secrets = synthesized.resources("AWS::SecretsManager::Secret")
    # then its one secret keeps the logical id it had before stores existed (a redeploy keeps the
    # credentials already put), without a name of our choosing, with the three fields empty
    ((logical_id, secret),) = secrets.items()
    assert logical_id.startswith("WorkflowCredentials")
    assert not logical_id.startswith("WorkflowCredentialsdefault")
    assert "Name" not in secret["Properties"]
    assert json.loads(secret["Properties"]["SecretString"]) == {"clientId": "", "clientSecret": "", "targetId": ""}


def object_prefix(resource) -> str | None:
    """``manifests/`` of ``{"Fn::Join": ["", [<bucket arn>, "/manifests/*"]]}``; None for any other resource."""
    if isinstance(resource, dict) and "Fn::Join" in resource:
        first, *_, last = resource["Fn::Join"][1]
        if is_lake_bucket_arn(first):
            return last.removeprefix("/").removesuffix("*")
    return None


def is_lake_bucket_arn(resource) -> bool:
    return isinstance(resource, dict) and resource.get("Fn::GetAtt", [""])[0].startswith("StorageData")


def object_access(synthesized, functions, action: str) -> dict[str, set[str]]:
    """step -> the key prefixes it may ``action`` on."""
    found = {}
    for step, (_, properties) in functions.items():
        for statement in role_statements(synthesized, properties["Role"]):
            if action in actions(statement):
                found.setdefault(step, set()).update(filter(None, map(object_prefix, resources(statement))))
    return found


def test_only_the_commit_publishes_into_the_tables_locations(synthesized, functions):
    writers = object_access(synthesized, functions, "s3:PutObject")
    # given the land step: it stages, writes its data file into the curated tables' location (no
    # snapshot lists it yet) or quarantines, and publishes nothing
    assert writers.pop("land_report") == {"staging/", "iceberg/", "quarantine/"}
    # and the commit: the tables' metadata, then each committed day's report and manifest
    assert writers.pop("commit_curated") == {"iceberg/", "reports/", "manifests/"}
    # and the others write only what an execution hands on, or what did not land into quarantine/,
    # outside every table's location
    assert writers == {"plan_windows": {"_runs/plans/"}, "summarize": {"_runs/summaries/", "quarantine/"}}
    aborts = object_access(synthesized, functions, "s3:AbortMultipartUpload")
    assert aborts == {
        "land_report": {"staging/", "iceberg/", "quarantine/"},
        "commit_curated": {"reports/", "manifests/"},
        "summarize": {"quarantine/"},
    }


def test_each_function_reads_and_deletes_only_what_its_step_hands_on(synthesized, functions):
    readers = object_access(synthesized, functions, "s3:GetObject")
    assert readers == {
        "land_report": {"staging/"},
        "commit_curated": {"_runs/map-results/", "iceberg/", "staging/"},
        "plan_windows": {"manifests/"},
        "summarize": {"_runs/plans/", "_runs/map-results/", "staging/", "reports/"},
    }
    deleters = {
        action: object_access(synthesized, functions, action)
        for action in ("s3:DeleteObject", "s3:DeleteObjectVersion")
    }
    assert deleters == {
        "s3:DeleteObject": {"land_report": {"staging/", "iceberg/"}, "commit_curated": {"iceberg/", "staging/"}},
        "s3:DeleteObjectVersion": {"summarize": {"reports/"}},
    }


def test_only_the_commit_may_change_the_catalog_and_only_the_lakes_database(synthesized, functions):
    # given every Glue action any function's role is granted
    glue = {
        step: [
            statement
            for statement in role_statements(synthesized, properties["Role"])
            if any(action.startswith("glue:") for action in actions(statement))
        ]
        for step, (_, properties) in functions.items()
    }
    # then the commit alone has them, on the catalog, the lake's database and its tables
    assert {step for step, statements in glue.items() if statements} == {"commit_curated"}
    (statement,) = glue["commit_curated"]
    targets = [json.dumps(resource) for resource in resources(statement)]
    database = synthesized.context["databaseName"]
    assert any(":catalog" in target for target in targets)
    assert any(f"database/{database}" in target for target in targets)
    assert any(f"table/{database}/*" in target for target in targets)
    assert len(targets) == 3


def test_no_function_role_carries_a_managed_policy(synthesized, functions):
    roles = synthesized.template["Resources"]
    for step, (_, properties) in functions.items():
        assert "ManagedPolicyArns" not in roles[properties["Role"]["Fn::GetAtt"][0]]["Properties"], step


@pytest.fixture(scope="module")
def state_machine(synthesized) -> tuple[str, dict]:
    ((logical_id, resource),) = synthesized.resources("AWS::StepFunctions::StateMachine").items()
    return logical_id, resource["Properties"]


def test_the_definition_deployed_is_the_asl_file(synthesized, state_machine):
    _, properties = state_machine
    key = properties["DefinitionS3Location"]["Key"]
    assert json.loads((synthesized.outdir / f"asset.{key}").read_text()) == json.loads(ASL_PATH.read_text())


def test_the_definition_bounds_each_execution_in_time():
    # CDK cannot add a timeout to a definition read from a file: it lives in the file.
    timeout = json.loads(ASL_PATH.read_text()).get("TimeoutSeconds")
    assert timeout is not None, f"{ASL_PATH.name} needs a top-level TimeoutSeconds"
    # long enough for a 400-day backfill at five windows at a time, short enough to end a stuck run
    assert 24 * 3600 < timeout <= 7 * 24 * 3600


def test_every_placeholder_is_substituted_with_its_steps_function(state_machine, functions):
    _, properties = state_machine
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == set(FUNCTION_PLACEHOLDERS) | {BUCKET_PLACEHOLDER}
    for placeholder, step in FUNCTION_PLACEHOLDERS.items():
        assert substitutions[placeholder] == {"Fn::GetAtt": [functions[step][0], "Arn"]}


def test_state_machine_logs_everything_with_retention_and_traces(synthesized, state_machine):
    _, properties = state_machine
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert properties["TracingConfiguration"] == {"Enabled": True}
    (destination,) = properties["LoggingConfiguration"]["Destinations"]
    group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert synthesized.template["Resources"][group_id]["Properties"]["RetentionInDays"] > 0


def test_state_machine_may_invoke_every_function_and_nothing_else(synthesized, state_machine, functions):
    _, properties = state_machine
    invokes = [s for s in role_statements(synthesized, properties["RoleArn"]) if "lambda:InvokeFunction" in actions(s)]
    resources = [resource for statement in invokes for resource in statement["Resource"]]
    function_arns = {json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}) for logical_id, _ in functions.values()}
    named = {json.dumps(r) for r in resources if "Fn::GetAtt" in r}
    assert named == function_arns
    assert all(actions(statement) == ["lambda:InvokeFunction"] for statement in invokes)


def test_state_machine_may_run_its_windows_as_child_executions_of_itself_only(synthesized, state_machine):
    # given the Distributed Map of the ASL, whose windows run as child executions
    _, properties = state_machine
    statements = role_statements(synthesized, properties["RoleArn"])
    by_action = {action: statement for statement in statements for action in actions(statement)}
    name = properties["StateMachineName"]
    # then the role may start this state machine, and describe or stop its executions, nothing more
    start_resource = json.dumps(by_action["states:StartExecution"]["Resource"])
    assert f":stateMachine:{name}" in start_resource and "*" not in start_resource
    for action in ("states:DescribeExecution", "states:StopExecution"):
        assert f":execution:{name}/*" in json.dumps(by_action[action]["Resource"])
    processor = json.loads(ASL_PATH.read_text())["States"]["Ingest each window"]["ItemProcessor"]
    assert processor["ProcessorConfig"]["Mode"] == "DISTRIBUTED"


def test_the_map_may_read_the_plans_and_write_its_result_files_and_nothing_else_of_the_bucket(
    synthesized, state_machine
):
    _, properties = state_machine
    by_prefix = {}
    for statement in role_statements(synthesized, properties["RoleArn"]):
        prefix = object_prefix(statement["Resource"])
        if prefix is not None:
            by_prefix.setdefault(prefix, set()).update(actions(statement))
    assert by_prefix == {
        "_runs/plans/": {"s3:GetObject"},
        "_runs/map-results/": {
            "s3:PutObject",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:AbortMultipartUpload",
        },
    }
    assert properties["DefinitionSubstitutions"]["LakeBucketName"]["Ref"].startswith("StorageData")


def test_the_state_table_keeps_its_items_recoverable_and_expires_old_ledger_entries(synthesized):
    (table,) = synthesized.resources("AWS::DynamoDB::Table").values()
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert [k["AttributeName"] for k in properties["KeySchema"]] == ["pk", "sk"]


def test_only_the_steps_that_coordinate_write_the_state_table(synthesized, functions):
    (table_id,) = synthesized.resources("AWS::DynamoDB::Table")
    writers = {
        step
        for step, (_, properties) in functions.items()
        for statement in role_statements(synthesized, properties["Role"])
        if {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(actions(statement))
        and table_id in json.dumps(statement["Resource"])
    }
    # Plan windows records the windows of a store whose credentials are refused as failed, the
    # commit each landed task
    assert writers == {"plan_windows", "start_report", "check_report", "land_report", "commit_curated", "summarize"}
    variables = functions["start_report"][1]["Environment"]["Variables"]
    assert variables["STATE_TABLE"] == {"Ref": table_id}

"""Each function is granted exactly the actions its code calls: the synthesized template beside
the calls read from lambdas/ (tests/infra/aws_calls.py), and beside the one declaration of every
function's access (infra/access.py)."""

from __future__ import annotations

import json

import pytest

from bwp_lake.infra.access import BUCKET, CATALOG, FUNCTION_ACCESS, OBJECTS, SECRET, STATE_TABLE
from tests.infra.aws_calls import actions_by_step
from tests.infra.test_workflow import actions, is_lake_bucket_arn, object_prefix, resources, role_statements

pytestmark = pytest.mark.xdist_group("infra-synth")

# What Lambda's runtime does for every function, not its code: its log stream and its traces.
RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.fixture(scope="module")
def granted(synthesized) -> dict[str, set[tuple[str, str]]]:
    """step -> every (action, what it is on) its role's policies grant, but the runtime's."""
    table_id = next(iter(synthesized.resources("AWS::DynamoDB::Table")))
    found: dict[str, set[tuple[str, str]]] = {}
    for resource in synthesized.resources("AWS::Lambda::Function").values():
        step = resource["Properties"]["Handler"].split(".")[0]
        grants = found.setdefault(step, set())
        for statement in role_statements(synthesized, resource["Properties"]["Role"]):
            for action in set(actions(statement)) - RUNTIME_ACTIONS:
                for target in resources(statement):
                    grants.add((action, _target(target, statement.get("Condition"), table_id)))
    return found


def _target(resource, condition, table_id: str) -> str:
    prefix = object_prefix(resource)
    if prefix is not None:
        return f"{OBJECTS} {prefix}"
    if resource == {"Fn::GetAtt": [table_id, "Arn"]}:
        return STATE_TABLE
    if is_lake_bucket_arn(resource):
        # Without a condition on s3:prefix, the whole bucket may be listed.
        prefixes = ((condition or {}).get("StringLike") or {}).get("s3:prefix") or ["(any key)"]
        return f"{BUCKET} {','.join(prefix.removesuffix('*') for prefix in prefixes)}"
    if isinstance(resource, dict) and "Ref" in resource:
        return SECRET
    if ":glue:" in json.dumps(resource):
        return CATALOG
    return str(resource)


def declared(step: str) -> set[tuple[str, str]]:
    return {
        (action, f"{access.on} {access.prefix}" if access.prefix else access.on)
        for access in FUNCTION_ACCESS[step]
        for action in access.actions
    }


def test_no_function_is_granted_an_action_its_code_never_calls_nor_calls_one_it_is_not_granted(granted):
    # given the actions each handler's code can reach, and those its role is granted
    called = actions_by_step()
    assert set(called) == set(granted)
    for step in called:
        allowed = {action for action, _ in granted[step]}
        # then nothing is granted without a caller, and nothing is called without a grant
        assert not allowed - called[step], f"{step} is granted actions its code never calls"
        assert not called[step] - allowed, f"{step} calls actions it is not granted"


def test_the_template_grants_exactly_what_infra_access_declares(granted):
    for step in FUNCTION_ACCESS:
        assert granted[step] == declared(step), step


def test_no_function_may_use_a_wildcard_action():
    for step, accesses in FUNCTION_ACCESS.items():
        assert all("*" not in action for access in accesses for action in access.actions), step

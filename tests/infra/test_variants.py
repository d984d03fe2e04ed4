"""The stack under other configurations: an imported secret, and a missing Lambda bundle."""

from __future__ import annotations

import pytest

from tests.infra.support import lambda_bundle

pytestmark = pytest.mark.xdist_group("infra-synth")

SECRET_NAME = "merchant/bwp-api"


@pytest.fixture(scope="module")
def imported_secret_template(tmp_path_factory) -> dict:
    import app

    bundle = lambda_bundle(tmp_path_factory.mktemp("lambda"))
    application = app.build_app(
        context={"lambdaAssetDir": str(bundle), "credentialsSecretName": SECRET_NAME},
        outdir=str(tmp_path_factory.mktemp("cdk.out")),
    )
    # synth runs cdk-nag too: the imported secret's grant must be acknowledged as well
    (stack,) = application.synth().stacks
    return stack.template


def test_an_imported_secret_is_used_by_name_and_not_created(imported_secret_template):
    resources = imported_secret_template["Resources"].values()
    assert not [r for r in resources if r["Type"] == "AWS::SecretsManager::Secret"]
    functions = [r["Properties"] for r in resources if r["Type"] == "AWS::Lambda::Function"]
    assert {f["Environment"]["Variables"]["BWP_CREDENTIALS_SECRET"] for f in functions} == {SECRET_NAME}


def test_only_that_secret_can_be_read(imported_secret_template):
    reads = [
        statement["Resource"]
        for resource in imported_secret_template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in statement["Action"]
    ]
    assert len(reads) == 4  # Plan windows checks the credentials; three steps call the API
    for resource in reads:
        # the secret's ARN ends in six random characters, unknown until it was created
        assert resource["Fn::Join"][1][-1] == f":secret:{SECRET_NAME}-??????"


def test_synth_without_the_bundle_says_to_run_make_build(tmp_path):
    import app
    from bwp_lake.infra.workflow import LambdaBundleMissing

    with pytest.raises(LambdaBundleMissing, match="run `make build` first"):
        app.build_app(context={"lambdaAssetDir": str(tmp_path / "missing")}, outdir=str(tmp_path / "out"))

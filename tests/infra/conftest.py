"""One synth per test session: the app as `make synth` builds it (cdk-nag included), with the
Lambda bundle replaced by a copy of lambdas/ so that no pip install runs."""

from __future__ import annotations

import json
import os

import pytest

from tests.infra.support import ALARM_EMAIL, REPO, Synthesized, lambda_bundle, nag_findings

os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    import app

    bundle = lambda_bundle(tmp_path_factory.mktemp("lambda"))
    outdir = tmp_path_factory.mktemp("cdk.out")
    overrides = {"lambdaAssetDir": str(bundle), "alarmEmail": ALARM_EMAIL}
    application = app.build_app(context=overrides, outdir=str(outdir))
    stack_name = json.loads((REPO / "cdk.json").read_text())["context"]["stackName"]
    try:
        assembly = application.synth()
    except RuntimeError as error:
        report = outdir / "validation-report.json"
        if "ValidationFailed" in str(error) and report.exists():
            pytest.fail(f"cdk-nag findings not acknowledged:\n{nag_findings(report)}")
        raise
    template = assembly.get_stack_by_name(stack_name).template
    context = {**json.loads((REPO / "cdk.json").read_text())["context"], **overrides}
    return Synthesized(template=template, outdir=outdir, stack_name=stack_name, context=context)

"""Shared by the infra tests: the stand-in Lambda bundle and the synthesized stack."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bwp_lake.definition import FUNCTION_PLACEHOLDERS

REPO = Path(__file__).resolve().parents[2]
ALARM_EMAIL = "data-team@example.com"


@dataclass
class Synthesized:
    template: dict[str, Any]
    outdir: Path
    stack_name: str
    context: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }


def lambda_bundle(directory: Path) -> Path:
    """What `make build` leaves in build/lambda: its bundles, each wheel reduced to a marker."""
    for bundle, wheels in (("core", ()), ("landing", ("pyarrow",)), ("iceberg", ("pyarrow", "pyiceberg"))):
        for name in ("bwp", *FUNCTION_PLACEHOLDERS.values()):
            shutil.copytree(
                REPO / "lambdas" / name, directory / bundle / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        for wheel in wheels:
            (directory / bundle / wheel).mkdir()
            (directory / bundle / wheel / "__init__.py").write_text("")
    return directory


def rendered(value: Any) -> str:
    """A template string as text: a ``Fn::Join`` of literals and references, each reference
    written as ``<logical id>`` (``{"Ref": "X"}`` and ``{"Fn::GetAtt": ["X", ...]}`` alike)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(rendered(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}>"
    raise AssertionError(f"not a string the test can render: {value}")


def stores_of(environment: dict[str, Any]) -> list[dict[str, Any]]:
    """A function's BWP_STORES, its secrets' references written as ``<logical id>``."""
    return json.loads(rendered(environment["BWP_STORES"]))


def synth_template(tmp_path_factory, context: dict[str, Any]) -> dict[str, Any]:
    """The template of the app under ``context`` (cdk.json's for every other key), cdk-nag included."""
    import app

    bundle = lambda_bundle(tmp_path_factory.mktemp("lambda"))
    application = app.build_app(
        context={"lambdaAssetDir": str(bundle), **context}, outdir=str(tmp_path_factory.mktemp("cdk.out"))
    )
    (stack,) = application.synth().stacks
    return stack.template


def nag_findings(report: Path) -> list[str]:
    """Every violation in a policy validation report, as 'rule at construct path'."""
    findings = []
    for plugin in json.loads(report.read_text())["pluginReports"]:
        for violation in plugin["violations"]:
            for construct in violation["violatingConstructs"]:
                findings.append(f"{violation['ruleName']} at {construct['constructPath']}")
    return findings

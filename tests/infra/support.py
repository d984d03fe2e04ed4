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
    """What `make build` leaves in build/lambda: its two bundles, each wheel reduced to a marker."""
    for bundle, wheels in (("core", ()), ("landing", ("pyarrow",))):
        for name in ("bwp", *FUNCTION_PLACEHOLDERS.values()):
            shutil.copytree(
                REPO / "lambdas" / name, directory / bundle / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        for wheel in wheels:
            (directory / bundle / wheel).mkdir()
            (directory / bundle / wheel / "__init__.py").write_text("")
    return directory


def nag_findings(report: Path) -> list[str]:
    """Every violation in a policy validation report, as 'rule at construct path'."""
    findings = []
    for plugin in json.loads(report.read_text())["pluginReports"]:
        for violation in plugin["violations"]:
            for construct in violation["violatingConstructs"]:
                findings.append(f"{violation['ruleName']} at {construct['constructPath']}")
    return findings

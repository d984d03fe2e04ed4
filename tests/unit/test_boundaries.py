"""The folders' boundaries, read from the imports: what may depend on what."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """File (relative to the repository) -> every module it imports, anywhere in it."""
    found = {}
    for path in sorted(folder.rglob("*.py")):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        found[str(path.relative_to(REPO))] = modules
    return found


def offending(folder: Path, allowed) -> dict[str, set[str]]:
    return {
        path: bad
        for path, modules in imported_modules(folder).items()
        if (bad := {module for module in modules if not allowed(module)})
    }


def bwp_module(module: str) -> bool:
    return module == "bwp" or module.startswith("bwp.")


@pytest.mark.parametrize("folder", ["bwp_lake/infra", "bwp_lake/athena"])
def test_the_stack_reads_only_the_lakes_contract_of_the_lambda_code(folder):
    # the stack (and the SQL it deploys) may read the registry, the manifest model and the
    # contract's constants, nothing that talks to the API or S3
    assert offending(REPO / folder, lambda m: not bwp_module(m) or m == "bwp.lake" or m.startswith("bwp.lake.")) == {}


def test_the_lakes_contract_depends_on_nothing_else_of_the_lambda_code_but_its_error_names():
    allowed = {
        "bwp.errors",
        "bwp.errors.UnknownReportType",
        "bwp.errors.InvalidSettings",
        "bwp.errors.StoreNotConfigured",
    }
    assert (
        offending(
            REPO / "lambdas" / "bwp" / "lake",
            lambda m: not bwp_module(m) or m.startswith("bwp.lake") or m in allowed,
        )
        == {}
    )


def test_the_lambda_code_knows_nothing_of_the_cdk_the_twin_or_the_cli():
    assert offending(REPO / "lambdas", lambda m: not m.startswith(("bwp_lake", "aws_cdk", "cdk_nag", "moto"))) == {}


def test_the_emulator_is_written_apart_from_the_client_it_is_tested_against():
    assert offending(REPO / "bwp_lake" / "emulator", lambda m: not bwp_module(m)) == {}


# Where each heavy package's bundle is: pyarrow in the landing bundle and in the committer's,
# pyiceberg in the committer's alone (lambdas/requirements-*.txt).
@pytest.mark.parametrize(
    ("package", "folders"),
    [("pyarrow", ("lambdas/bwp/landing/", "lambdas/bwp/iceberg/")), ("pyiceberg", ("lambdas/bwp/iceberg/",))],
)
def test_only_the_paths_whose_bundle_carries_a_heavy_package_import_it(package, folders):
    users = {
        path
        for path, modules in imported_modules(REPO / "lambdas").items()
        if any(module == package or module.startswith(f"{package}.") for module in modules)
    }
    assert users and all(path.startswith(folders) for path in users), users


def test_the_report_statuses_are_spelled_once_in_the_lambda_code():
    from bwp.models import ReportStatus

    # given the statuses only a report task has (FAILED is also Step Functions' word for a child
    # execution, which the Map's result files spell as Step Functions does)
    statuses = {status.value for status in ReportStatus} - {ReportStatus.FAILED.value}
    # when every string constant of the Lambda code but the module that names them is read
    spelled = [
        (str(path.relative_to(REPO)), node.lineno, node.value)
        for path in sorted((REPO / "lambdas").rglob("*.py"))
        if path != REPO / "lambdas" / "bwp" / "models.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in statuses
    ]
    # then none is a report status: polling, coordination and the steps name them by ReportStatus
    assert spelled == []

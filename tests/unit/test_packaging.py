"""The package's declared dependencies and the pinned requirements files tell the same story:
every pinned package is declared (in the dependencies or an extra) with a range its pin satisfies,
and every declared package is pinned, so `pip install .[twin]` and `make install` agree."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def pinned(path: Path) -> dict[str, Requirement]:
    """Every requirement of a requirements file and the files it includes with -r."""
    found: dict[str, Requirement] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= pinned(path.parent / line[3:].strip())
        elif line:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            if name in found:  # the same package twice, with other extras (moto): one pin, extras added
                assert found[name].specifier == requirement.specifier, f"{name} pinned twice, differently"
                requirement.extras |= found[name].extras
            found[name] = requirement
    return found


def declared() -> dict[str, list[Requirement]]:
    by_name: dict[str, list[Requirement]] = {}
    groups = [PROJECT["dependencies"], *PROJECT["optional-dependencies"].values()]
    for text in (text for group in groups for text in group):
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) != canonicalize_name(PROJECT["name"]):
            by_name.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return by_name


PINS = pinned(REPO / "requirements-dev.txt")


def test_every_pin_is_an_exact_version():
    assert all(str(pin.specifier).startswith("==") for pin in PINS.values()), PINS


def test_every_pinned_package_is_declared_with_a_range_its_pin_satisfies():
    declarations = declared()
    for name, pin in PINS.items():
        assert name in declarations, f"{name} is pinned but pyproject.toml does not declare it"
        version = str(pin.specifier).removeprefix("==")
        for declaration in declarations[name]:
            assert declaration.specifier.contains(version), f"{name}=={version} is outside {declaration}"
        assert pin.extras <= set().union(*(d.extras for d in declarations[name])), f"{name}: extras differ"


def test_every_declared_package_is_pinned():
    assert set(declared()) <= set(PINS), set(declared()) - set(PINS)


@pytest.mark.parametrize("bundle", ["requirements.txt", "requirements-landing.txt", "requirements-iceberg.txt"])
def test_the_lambda_bundles_need_nothing_the_package_does_not_declare_as_a_dependency(bundle):
    pins = pinned(REPO / "lambdas" / bundle)
    dependencies = {canonicalize_name(Requirement(text).name) for text in PROJECT["dependencies"]}
    assert set(pins) <= dependencies


def test_the_wheel_holds_two_top_level_packages_and_everything_the_twin_reads(tmp_path):
    # given the wheel `pip install .` would install
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # then nothing generic lands at the top of site-packages: bwp and bwp_lake only
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"bwp", "bwp_lake"}
    # and it carries every module, the workflow definition, the handlers and the named queries
    lambdas, queries = REPO / "lambdas", REPO / "bwp_lake" / "athena" / "queries"
    expected = {f"bwp/{path.relative_to(lambdas / 'bwp')}" for path in (lambdas / "bwp").rglob("*.py")}
    expected |= {str(path.relative_to(REPO)) for path in (REPO / "bwp_lake").rglob("*.py")}
    expected |= {f"bwp_lake/athena/queries/{path.name}" for path in queries.glob("*")}
    expected |= {f"bwp_lake/functions/{path.parent.name}/handler.py" for path in lambdas.glob("*/handler.py")}
    expected.add("bwp_lake/statemachine/ingest_reports.asl.json")
    assert expected - names == set()
    # and, installed, the twin finds the definition and the handlers inside the package
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    probe = (
        "from bwp_lake.definition import ASL_PATH; from bwp_lake.local.lambda_runtime import LAMBDAS_DIR;"
        "print(ASL_PATH.read_text()[:1], (LAMBDAS_DIR / 'land_report' / 'handler.py').is_file(), ASL_PATH)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert found == ["{", "True", str(installed / "bwp_lake" / "statemachine" / "ingest_reports.asl.json")]


@pytest.mark.parametrize("command", ["start", "gaps", "status", "create-views", "dbt-sources"])
def test_the_stack_commands_need_no_extra(command):
    # given an interpreter without what only the twin and the CDK app need (`pip install .` alone)
    program = (
        "import sys\n"
        "for name in ('moto', 'duckdb', 'graphql', 'aws_cdk', 'cdk_nag', 'constructs'): sys.modules[name] = None\n"
        f"from bwp_lake.cli.main import build_parser; build_parser([{command!r}])\n"
    )
    # when the command's module is loaded, then nothing it imports is missing
    result = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

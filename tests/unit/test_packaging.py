"""The package's declared dependencies and the pinned requirements files tell the same story:
every pinned package is declared (in the dependencies or an extra) with a range its pin satisfies,
and every declared package is pinned, so `pip install .[twin]` and `make install` agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

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


def test_the_lambda_bundles_need_nothing_the_package_does_not_declare_as_a_dependency():
    bundle = pinned(REPO / "lambdas" / "requirements-landing.txt")
    dependencies = {canonicalize_name(Requirement(text).name) for text in PROJECT["dependencies"]}
    assert set(bundle) <= dependencies

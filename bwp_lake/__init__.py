"""bwp-report-lake's own packages beside the Lambda code (``bwp``): the CLI, the CDK constructs,
the Athena SQL, the API emulator and the local twin, in one namespace."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_path(installed: str, checkout: str) -> Path:
    """Where a folder that lives at the repository's top (``statemachine/``, ``lambdas/``) is: inside
    this package when it was installed from a wheel (pyproject.toml maps it to ``installed``), at
    the top of the checkout otherwise."""
    inside = _PACKAGE / installed
    return inside if inside.is_dir() else _PACKAGE.parent / checkout

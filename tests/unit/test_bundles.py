"""Each function imports only what its bundle carries: pyarrow in the landing and iceberg bundles,
pyiceberg in the iceberg bundle alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bwp_lake.infra.workflow import STEPS

REPO = Path(__file__).resolve().parents[2]
# The heavy packages a bundle lacks.
MISSING = {"core": ("pyarrow", "pyiceberg"), "landing": ("pyiceberg",), "iceberg": ()}


@pytest.mark.parametrize(("step", "bundle"), [(step, profile.bundle) for step, profile in STEPS.items()])
def test_a_function_imports_without_the_packages_its_bundle_lacks(step, bundle):
    # given an interpreter in which the packages its bundle lacks cannot be imported
    blocked = "".join(f"sys.modules[{package!r}] = None; " for package in MISSING[bundle])
    program = f"import sys; {blocked}import {step}.handler"
    # when the function's handler module is imported (its cold start)
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO / "lambdas", capture_output=True, text=True, timeout=60
    )
    # then nothing it imports needs them
    assert result.returncode == 0, result.stderr

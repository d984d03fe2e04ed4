"""Only land_report runs from the bundle with pyarrow: every other function must import without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bwp_lake.infra.workflow import STEPS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("step", [step for step, profile in STEPS.items() if profile.bundle == "core"])
def test_a_function_of_the_core_bundle_imports_without_pyarrow(step):
    # given an interpreter in which pyarrow cannot be imported, as in the core bundle
    program = f"import sys; sys.modules['pyarrow'] = None; import {step}.handler"
    # when the function's handler module is imported (its cold start)
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO / "lambdas", capture_output=True, text=True, timeout=60
    )
    # then nothing it imports needs pyarrow
    assert result.returncode == 0, result.stderr

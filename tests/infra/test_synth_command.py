"""`python app.py`, what `make synth` runs: a wrong cdk.json value or an old Node.js is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.infra.support import REPO

PINNED_NODE = REPO / "node_modules" / ".bin"


def synth(path: str, outdir: Path, context: dict | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "CDK_OUTDIR": str(outdir)}
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_wrong_cdk_json_value_is_one_line_naming_the_key(tmp_path: Path):
    # given the Node of package-lock.json and a maxConcurrency the API cannot honour
    path = f"{PINNED_NODE}{os.pathsep}{os.environ['PATH']}"
    # when synth runs
    result = synth(path, tmp_path, {"maxConcurrency": 9})
    # then it stops with one line that names the key and where to fix it, and no traceback
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and "maxConcurrency" in lines[0] and "cdk.json" in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_node_older_than_22_is_refused_before_the_cdk_starts(tmp_path: Path):
    # given a `node` on PATH that says it is Node 20
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v20.20.2\n")
    fake.chmod(0o755)
    # when synth runs
    result = synth(f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin", tmp_path / "cdk.out")
    # then one line says which Node is needed and how to get it; the CDK never printed its banner
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "synth: the CDK needs Node.js 22 or newer (found Node 20): run `make synth`, which installs"
        " the Node of package-lock.json, or put Node.js 22+ first on PATH"
    ]
    assert result.stdout == ""

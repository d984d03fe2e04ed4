#!/usr/bin/env python3
"""The CDK app: `make synth` and `make deploy` run this file.

The context comes from cdk.json (the CDK CLI passes it, `-c key=value` overriding it); run
directly, the app reads cdk.json itself. Every synth is checked by cdk-nag's AwsSolutions pack:
an unacknowledged finding stops it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_cdk import App

ROOT = Path(__file__).resolve().parent
# Node 20 is past its end of life and the AWS SDK for JavaScript drops it; the Makefile puts the
# Node of package-lock.json first on PATH, so this only stops a synth run by hand on an old Node.
MIN_NODE_MAJOR = 22


def node_major_version() -> int | None:
    """The major version of the `node` the CDK's jsii runtime will start, None when there is none."""
    try:
        found = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", found.stdout.strip())
    return int(match.group(1)) if match else None


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    # Imported here: importing the CDK starts its Node runtime, which must come after the Node check.
    from aws_cdk import App, Validations
    from cdk_nag import AwsSolutionsChecks

    from bwp_lake.infra.config import LakeConfig
    from bwp_lake.infra.stack import ReportLakeStack

    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(
        context={**defaults, **(context or {})},
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"),
    )
    config = LakeConfig.from_context(app.node.try_get_context)
    ReportLakeStack(app, config.stack_name, config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    major = node_major_version()
    if major is None or major < MIN_NODE_MAJOR:
        found = "no node on PATH" if major is None else f"found Node {major}"
        print(
            f"synth: the CDK needs Node.js {MIN_NODE_MAJOR} or newer ({found}): run `make synth`, which installs"
            " the Node of package-lock.json, or put Node.js 22+ first on PATH",
            file=sys.stderr,
        )
        return 2
    from bwp_lake.infra.config import InvalidConfiguration

    try:
        build_app().synth()
    except InvalidConfiguration as error:
        print(f"synth: cdk.json {error}: correct it in cdk.json or the -c option", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The CDK app: `make synth` and `make deploy` run this file.

The context comes from cdk.json (the CDK CLI passes it, `-c key=value` overriding it); run
directly, the app reads cdk.json itself. Every synth is checked by cdk-nag's AwsSolutions pack:
an unacknowledged finding stops it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import LakeConfig
from infra.stack import ReportLakeStack

ROOT = Path(__file__).resolve().parent


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    defaults = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = App(
        context={**defaults, **(context or {})},
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"),
    )
    config = LakeConfig.from_context(app.node.try_get_context)
    ReportLakeStack(app, config.stack_name, config=config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()

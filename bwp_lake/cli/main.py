"""``bwp-lake``: one entry point; each subcommand is a module of cli/ with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

# subcommand -> its module, imported only when asked for, so that
# ``bwp-lake emulator`` does not pay for moto or CDK.
SUBCOMMANDS = {
    "emulator": "bwp_lake.cli.emulator_serve",
    "local-run": "bwp_lake.cli.local_run",
    "demo": "bwp_lake.cli.local_run",
    "start": "bwp_lake.cli.start",
    "create-views": "bwp_lake.cli.athena_setup",
    "gaps": "bwp_lake.cli.gaps",
    "status": "bwp_lake.cli.status",
    "snapshots": "bwp_lake.cli.snapshots",
    "forget-store": "bwp_lake.cli.forget_store",
    "sql": "bwp_lake.cli.sql",
    "dbt-sources": "bwp_lake.cli.dbt_sources",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a refused command line is one line (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="bwp-lake",
        description="Buy with Prime analytics reports into an S3 data lake, in AWS or on the local twin.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    modules = {SUBCOMMANDS[wanted]} if wanted else set(SUBCOMMANDS.values())
    for module in sorted(modules):
        importlib.import_module(module).register(subparsers)
    return parser


# Set to see the traceback behind a one-line failure.
DEBUG_VARIABLE = "BWP_LAKE_DEBUG"
INTERRUPTED_EXIT = 130


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    args = build_parser(args_list).parse_args(args_list)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"bwp-lake {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except SystemExit:
        raise
    except Exception as error:  # every failure a person reads is one line; BWP_LAKE_DEBUG shows the rest
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        print(f"bwp-lake {args.command}: {one_line(error)}", file=sys.stderr)
        return 1


def one_line(error: Exception) -> str:
    """What went wrong and what to do, in one line, for the failures no command answers itself."""
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region, or set AWS_REGION (or a region in your AWS profile)"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach AWS ({error}): check the network and --region"
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        code, message = detail.get("Code", "error"), detail.get("Message", "")
        return f"AWS refused {error.operation_name}: {code}: {message}".rstrip(": ").replace("\n", " ")
    if isinstance(error, BotoCoreError):
        return f"AWS call failed: {error}".replace("\n", " ")
    text = " ".join(str(error).split()) or "no message"
    return f"unexpected {type(error).__name__}: {text} (set {DEBUG_VARIABLE}=1 to see where)"


if __name__ == "__main__":
    sys.exit(main())

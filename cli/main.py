"""``bwp-lake``: one entry point; each subcommand is a module of cli/ with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> its module, imported only when asked for, so that
# ``bwp-lake emulator`` does not pay for moto or CDK.
SUBCOMMANDS = {
    "emulator": "cli.emulator_serve",
    "local-run": "cli.local_run",
    "demo": "cli.local_run",
    "start": "cli.start",
    "create-views": "cli.athena_setup",
    "gaps": "cli.gaps",
    "status": "cli.status",
    "sql": "cli.sql",
    "dbt-sources": "cli.dbt_sources",
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bwp-lake",
        description="Buy with Prime analytics reports into an S3 data lake, in AWS or on the local twin.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    modules = {SUBCOMMANDS[wanted]} if wanted else set(SUBCOMMANDS.values())
    for module in sorted(modules):
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    args = build_parser(args_list).parse_args(args_list)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

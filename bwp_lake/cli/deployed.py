"""The deployed stack, found by name: its outputs name everything the CLI drives."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bwp_lake.infra.outputs import DEFAULT_STACK_NAME

# Every AWS call the CLI makes: bounded connect/read times and a bounded number of retries.
AWS_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 5, "mode": "standard"})


class StackNotUsable(Exception):
    """The stack named by --stack-name cannot drive the command; the message says why."""


class StackNotDeployed(StackNotUsable):
    """No stack of that name in that account and region."""


class StackOutputMissing(StackNotUsable):
    """The stack exists but lacks an output: it predates this version, or is not ours."""


def add_stack_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """A subcommand that drives the stack named by --stack-name and --region; the caller adds its own flags."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help=f"default: {DEFAULT_STACK_NAME}")
    parser.add_argument("--region", help="default: the AWS CLI's (AWS_REGION, AWS_DEFAULT_REGION, profile)")
    parser.set_defaults(run=run)
    return parser


def client(args: argparse.Namespace, service: str) -> Any:
    return boto3.client(service, region_name=args.region, config=AWS_CONFIG)


def table(args: argparse.Namespace, name: str) -> Any:
    """A DynamoDB table of the stack, with the CLI's bounded timeouts and retries."""
    return boto3.resource("dynamodb", region_name=args.region, config=AWS_CONFIG).Table(name)


def stack_output_values(args: argparse.Namespace, *keys: str) -> list[str]:
    """The values of the outputs ``keys`` of the stack --stack-name and --region name, in that order."""
    outputs = _stack_outputs(client(args, "cloudformation"), args.stack_name)
    return [_stack_output(outputs, key, args.stack_name) for key in keys]


def store_ids(output: str) -> list[str]:
    """The stores a stack serves, from its StoreIds output (comma-separated ids)."""
    return [store for store in output.split(",") if store]


def _stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError":  # CloudFormation's "does not exist"
            raise StackNotDeployed(
                f"stack {stack_name} not found in {cloudformation.meta.region_name}: deploy it with "
                "`make deploy`, or pass --stack-name/--region"
            ) from None
        raise
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def _stack_output(outputs: dict[str, str], key: str, stack_name: str) -> str:
    try:
        return outputs[key]
    except KeyError:
        raise StackOutputMissing(f"stack {stack_name} has no output {key}: redeploy it with `make deploy`") from None

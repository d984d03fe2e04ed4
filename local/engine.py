"""The local engine: the real ASL on moto's Step Functions engine, the real handlers in-process.

S3, Secrets Manager and Step Functions are moto's; the API is the emulator on loopback (or any
base URL that speaks the documented API). Nothing here is a second version of the workflow: the
definition is ``statemachine/ingest_reports.asl.json`` with local function ARNs filled in.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from bwp import dependencies
from bwp.observability import NAMESPACE, SERVICE
from bwp.observability import logger as lambda_logger
from bwp.observability import metrics as lambda_metrics
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

import statemachine
from local.lambda_runtime import InProcessLambdas, Invocation, load_handler
from local.virtual_time import EmulatorClock, VirtualTime

REGION = "us-east-1"
BUCKET = "bwp-local-lake"
SECRET_ID = "bwp-report-lake/api-credentials"
STATE_MACHINE = "bwp-ingest-reports"
LAKE_PREFIXES = ("reports/", "manifests/")
DEFAULT_TIMEOUT_SECONDS = 900.0


@dataclass(frozen=True)
class ApiEndpoint:
    base_url: str
    client_id: str
    client_secret: str
    target_id: str


@dataclass
class ExecutionOutcome:
    execution_arn: str
    status: str
    error: str | None
    cause: str | None
    summary: dict[str, Any] | None
    invocations: list[Invocation]
    api_seconds_elapsed: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class LocalEngine:
    """``with LocalEngine(api) as engine: engine.run({...})`` - one moto account per engine."""

    def __init__(
        self,
        api: ApiEndpoint,
        *,
        virtual_time: bool = True,
        on_invocation: Callable[[Invocation], None] | None = None,
        lambda_log: Path | None = None,
        allowed_download_hosts: str = "127.0.0.1,localhost",
    ) -> None:
        self.api = api
        self._virtual_time = VirtualTime(EmulatorClock(api.base_url)) if virtual_time else None
        self._lambdas = InProcessLambdas(on_invocation)
        self._lambda_log = lambda_log
        self._allowed_hosts = allowed_download_hosts
        self._stack = ExitStack()

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> LocalEngine:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        enter = self._stack.enter_context
        enter(_quiet_engine_logs())
        enter(warnings.catch_warnings())
        # Steps without metrics of their own flush none; in Lambda that is one line per cold start.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        enter(mock.patch.dict(os.environ, self._lambda_environment()))
        enter(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        enter(self._lambdas.routing())
        if self._virtual_time:
            enter(self._virtual_time.installed())
        enter(_lambda_logs_to(self._lambda_log))
        # Every engine is a cold start: no settings, token or client survives from another.
        dependencies.reset()
        self._stack.callback(dependencies.reset)
        # With metrics disabled, Powertools keeps what each flush would have published: nothing
        # the functions added here may reach the next engine, or a test in the same process.
        lambda_metrics.clear_metrics()
        self._stack.callback(lambda_metrics.clear_metrics)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)
        credentials = {
            "clientId": self.api.client_id,
            "clientSecret": self.api.client_secret,
            "targetId": self.api.target_id,
        }
        boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=SECRET_ID, SecretString=json.dumps(credentials)
        )
        self._role_arn, self._definition = self._create_functions()

    def _lambda_environment(self) -> dict[str, str]:
        return {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "BWP_API_URL": self.api.base_url,
            "BWP_CREDENTIALS_SECRET": SECRET_ID,
            "LAKE_BUCKET": BUCKET,
            "DOWNLOAD_HOST_ALLOWLIST": self._allowed_hosts,
            "POWERTOOLS_SERVICE_NAME": SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }

    def _create_functions(self) -> tuple[str, str]:
        """The functions, and the definition with their ARNs filled in."""
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="bwp-local-role", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        functions = boto3.client("lambda", region_name=REGION)
        arns = {}
        for placeholder, step in statemachine.FUNCTION_PLACEHOLDERS.items():
            name = f"bwp-{step.replace('_', '-')}"
            self._lambdas.register(name, load_handler(step))
            arns[placeholder] = functions.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler=f"{step}.handler.handler",
                Code={"ZipFile": _placeholder_zip()},
            )["FunctionArn"]
        return role, statemachine.render(statemachine.ASL_PATH.read_text(), arns)

    # --- running ------------------------------------------------------------------------------------
    def start(self, execution_input: dict[str, Any]) -> str:
        """Start one execution of the workflow; its ARN."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        state_machine_arn = sfn.create_state_machine(
            name=STATE_MACHINE, definition=self._definition, roleArn=self._role_arn
        )["stateMachineArn"]
        return sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=f"local-{uuid.uuid4().hex[:12]}",
            input=json.dumps(execution_input),
        )["executionArn"]

    def run(
        self, execution_input: dict[str, Any], timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
    ) -> ExecutionOutcome:
        """Run one execution to its end (``timeout_seconds`` of wall time at most, if given)."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        first_invocation = len(self._lambdas.invocations)
        api_started = self._virtual_time.clock.now() if self._virtual_time else None
        arn = self.start(execution_input)
        description = _wait_for_end(sfn, arn, timeout_seconds)
        invocations = self._lambdas.invocations[first_invocation:]
        summaries = [i.result for i in invocations if i.function == "bwp-summarize" and i.result]
        outcome = ExecutionOutcome(
            execution_arn=arn,
            status=description["status"],
            error=description.get("error"),
            cause=description.get("cause"),
            summary=summaries[-1] if summaries else None,
            invocations=invocations,
            api_seconds_elapsed=(
                (self._virtual_time.clock.now() - api_started).total_seconds() if self._virtual_time else None
            ),
        )
        # moto deep-copies a state machine, and with it its whole backend, on every start; a
        # finished execution's worker holds locks that cannot be copied. Everything about this
        # run has been read, so the next run starts from an empty Step Functions backend.
        stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][REGION].reset()
        return outcome

    def export_lake(self, lake_dir: Path) -> list[Path]:
        """Copy reports and manifests to ``lake_dir`` under the same keys as in the bucket."""
        written = []
        for prefix in LAKE_PREFIXES:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
                for item in page.get("Contents", []):
                    target = lake_dir / item["Key"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    self.s3.download_file(BUCKET, item["Key"], str(target))
                    written.append(target)
        return written


def _wait_for_end(sfn, arn: str, timeout_seconds: float | None) -> dict[str, Any]:
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        if deadline is not None and time.monotonic() > deadline:
            sfn.stop_execution(executionArn=arn, error="LocalTimeout", cause=f"over {timeout_seconds:.0f} s")
            raise TimeoutError(f"execution {arn} still running after {timeout_seconds:.0f} s; stopped")
        time.sleep(0.05)


def _placeholder_zip() -> bytes:
    """moto wants code for a function; the handler that really runs is imported in-process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "runs in-process on the local engine")
    return buffer.getvalue()


@contextmanager
def _quiet_engine_logs() -> Iterator[None]:
    """moto's engine logs a long traceback for every failed state; failures are reported by us.
    ``responses``, through which moto lets the API's requests pass, logs each URL at INFO, and a
    download link's URL carries its signature."""
    quieted = {name: logging.getLogger(name) for name in ("moto", "responses")}
    previous = {name: engine_logger.level for name, engine_logger in quieted.items()}
    for engine_logger in quieted.values():
        engine_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, engine_logger in quieted.items():
            engine_logger.setLevel(previous[name])


@contextmanager
def _lambda_logs_to(path: Path | None) -> Iterator[None]:
    """Send the functions' structured logs to a file (or nowhere) instead of the terminal."""
    handler = lambda_logger.registered_handler
    previous_stream = handler.stream
    with ExitStack() as stack:
        if path is None:
            stream = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = stack.enter_context(path.open("a", encoding="utf-8"))
        handler.setStream(stream)
        try:
            yield
        finally:
            handler.setStream(previous_stream)

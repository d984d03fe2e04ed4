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
import tempfile
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from unittest import mock

import boto3
from bwp import dependencies
from bwp.lake.settings import Settings, function_environment
from bwp.models import ObjectLocation
from bwp.observability import logger as lambda_logger
from bwp.observability import metrics as lambda_metrics
from bwp.runs import read_report
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.parser.backend.execution import Execution as MotoExecution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from bwp_lake import definition as statemachine
from bwp_lake.definition import function_name
from bwp_lake.local.api_endpoint import ApiEndpoint
from bwp_lake.local.curated_before_iceberg import commit_curated_files
from bwp_lake.local.lake_dir import LakeDirectory, move_into_stores
from bwp_lake.local.lake_state import held_by_this_run, load_state, written_through
from bwp_lake.local.lambda_runtime import InProcessLambdas, Invocation, load_handler
from bwp_lake.local.map_results import MapResults
from bwp_lake.local.virtual_time import EmulatorClock, VirtualTime

REGION = "us-east-1"
BUCKET = "bwp-local-lake"
STATE_MACHINE = "bwp-ingest-reports"
STATE_TABLE = "bwp-local-state"
DEFAULT_TIMEOUT_SECONDS = 900.0


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
        on_window_end: Callable[[dict[str, Any], bool], None] | None = None,
        lambda_log: Path | None = None,
        allowed_download_hosts: str = "127.0.0.1,localhost",
        lake_dir: Path | None = None,
    ) -> None:
        self.api = api
        self._virtual_time = VirtualTime(EmulatorClock(api.base_url)) if virtual_time else None
        self._on_invocation = on_invocation
        self._on_window_end = on_window_end
        self._lambdas = InProcessLambdas(self._invoked)
        self._lake_dir = lake_dir
        self.lake: LakeDirectory | None = None
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
        if self._lake_dir is not None:
            # First, before anything is written into it: one run at a time holds the directory.
            enter(held_by_this_run(self._lake_dir))
        enter(_quiet_engine_logs())
        enter(warnings.catch_warnings())
        # The functions' SQLite catalog of the curated tables: a working copy, saved into the lake
        # directory after each commit, once the files it points at are there.
        self._catalog = Path(enter(tempfile.TemporaryDirectory(prefix="bwp-catalog-"))) / "catalog.sqlite"
        # Steps without metrics of their own flush none; in Lambda that is one line per cold start.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        enter(mock.patch.dict(os.environ, self._lambda_environment()))
        enter(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        # moto deep-copies a state machine on every start, and with it (through its backend)
        # every execution, whose running worker holds locks that cannot be copied: executions are
        # shared instead, so that executions can overlap, as a schedule and a backfill do.
        enter(mock.patch.object(MotoExecution, "__deepcopy__", lambda execution, memo: execution, create=True))
        enter(self._lambdas.routing())
        enter(MapResults(self._child_ended).installed())
        if self._virtual_time:
            enter(self._virtual_time.installed())
        # What a function prints (Powertools' metrics, as EMF lines) goes where Lambda sends it:
        # to the function's log, never to this process's stdout.
        self._lambdas.stdout = enter(_lambda_logs_to(self._lambda_log))
        # Every engine is a cold start: no settings, token or client survives from another.
        dependencies.reset()
        self._stack.callback(dependencies.reset)
        # With metrics disabled, Powertools keeps what each flush would have published: nothing
        # the functions added here may reach the next engine, or a test in the same process.
        lambda_metrics.clear_metrics()
        self._stack.callback(lambda_metrics.clear_metrics)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        for store in self.api.stores:
            secrets.create_secret(Name=store.secret_id, SecretString=store.secret_string)
        self.state_table = create_state_table()
        self._role_arn, self._definition = self._create_functions()
        if self._lake_dir is not None:
            self._start_from_lake_dir(self._lake_dir)

    def _start_from_lake_dir(self, root: Path) -> None:
        """The lake directory is this twin's durable state, as the bucket and the table are the
        stack's: its objects are put back into the bucket, its table loaded and from then on
        written through."""
        self.lake = LakeDirectory(root, self.s3, BUCKET)
        self.lake.remove_stale_temp_files()
        move_into_stores(root)
        self.lake.load_into_bucket()
        self.lake.restore_catalog(self._catalog)
        # A directory whose curated layer predates its Iceberg tables: the files become the tables'.
        if commit_curated_files(root, self.s3, BUCKET, self._local_catalog):
            self.lake.export_commit(self._catalog)
        load_state(root, self.state_table)
        self._stack.enter_context(written_through(root, STATE_TABLE))

    def _local_catalog(self):
        """The tables' catalog as the functions open it (bwp.dependencies.lake_catalog)."""
        from bwp.iceberg.catalog import sql_catalog  # pyiceberg: only when a table is written here

        return sql_catalog(self._catalog, self.s3, namespace=Settings.default_of("catalog_database"), bucket=BUCKET)

    def _lambda_environment(self) -> dict[str, str]:
        settings = Settings.of(
            api_base_url=self.api.base_url,
            stores=[store.config for store in self.api.stores],
            lake_bucket=BUCKET,
            state_table=STATE_TABLE,
            download_host_allowlist=self._allowed_hosts,
            # The emulator serves its reports over http on loopback; nothing else may be plain http.
            download_plain_http_on_loopback=True,
            local_catalog_path=self._catalog,
        )
        return {
            **function_environment(settings),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def _create_functions(self) -> tuple[str, str]:
        """The functions, and the definition with their ARNs filled in."""
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="bwp-local-role", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        functions = boto3.client("lambda", region_name=REGION)
        arns = {}
        for placeholder, step in statemachine.FUNCTION_PLACEHOLDERS.items():
            name = function_name(step)
            self._lambdas.register(name, load_handler(step))
            arns[placeholder] = functions.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler=f"{step}.handler.handler",
                Code={"ZipFile": _placeholder_zip()},
            )["FunctionArn"]
        substitutions = {**arns, statemachine.BUCKET_PLACEHOLDER: BUCKET}
        return role, statemachine.render(statemachine.ASL_PATH.read_text(), substitutions)

    # --- running ------------------------------------------------------------------------------------
    def start(self, execution_input: Any) -> str:
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

    def run(self, execution_input: Any, timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS) -> ExecutionOutcome:
        """Run one execution to its end (``timeout_seconds`` of wall time at most, if given)."""
        (outcome,) = self.run_together([execution_input], timeout_seconds)
        return outcome

    def run_together(
        self, execution_inputs: list[Any], timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
    ) -> list[ExecutionOutcome]:
        """Start several executions at once, as a schedule and a backfill would overlap, and run
        them all to their end; each outcome lists every invocation made while they ran."""
        sfn = boto3.client("stepfunctions", region_name=REGION)
        first_invocation = len(self._lambdas.invocations)
        api_started = self._virtual_time.clock.now() if self._virtual_time else None
        arns = [self.start(execution_input) for execution_input in execution_inputs]
        descriptions = [_wait_for_end(sfn, arn, timeout_seconds) for arn in arns]
        invocations = self._lambdas.invocations[first_invocation:]
        api_seconds = (self._virtual_time.clock.now() - api_started).total_seconds() if self._virtual_time else None
        outcomes = [
            ExecutionOutcome(
                execution_arn=arn,
                status=description["status"],
                error=description.get("error"),
                cause=description.get("cause"),
                summary=self._report_of(arn, invocations),
                invocations=invocations,
                api_seconds_elapsed=api_seconds,
            )
            for arn, description in zip(arns, descriptions, strict=True)
        ]
        # moto deep-copies a state machine, and with it its whole backend, on every start; a
        # finished execution's worker holds locks that cannot be copied. Everything about these
        # runs has been read, so the next run starts from an empty Step Functions backend.
        stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][REGION].reset()
        return outcomes

    def invocations(self, function: str | None = None) -> list[Invocation]:
        """The functions' invocations so far (of one function, if named), oldest first."""
        return [i for i in self._lambdas.invocations if function is None or i.function == function]

    def export_lake(self) -> list[Path]:
        """Copy to the lake directory what is in the bucket and not there yet (windows are
        copied as they land; this catches the rest)."""
        if self.lake is None:
            raise ValueError("this engine was started without a lake_dir")
        return self.lake.export_commit(self._catalog)

    def _report_of(self, execution_arn: str, invocations: list[Invocation]) -> dict[str, Any] | None:
        """Summarize's full report of the execution (every window's line), from the bucket."""
        summaries = [
            i.result
            for i in invocations
            if i.function == SUMMARIZE_FUNCTION and i.result and i.event.get("executionId") == execution_arn
        ]
        if not summaries:
            return None
        return read_report(self.s3, ObjectLocation.model_validate(summaries[-1]["report"])).to_wire()

    def api_now(self) -> datetime:
        """The API's time: the emulator's clock on API time (as last read, so this costs no call),
        else the wall clock."""
        return self._virtual_time.api_now() if self._virtual_time else datetime.now(UTC)

    def _child_ended(self, child_input: Any, status: str, output: Any) -> None:
        """A window's child execution ended: it landed, or *Record window failure* recorded it
        (or the child itself failed)."""
        if self._on_window_end is None or not isinstance(child_input, dict):
            return
        failed = status != "SUCCEEDED" or not isinstance(output, dict) or output.get("status") == "FAILED"
        self._on_window_end(child_input.get("window") or {}, failed)

    def _invoked(self, invocation: Invocation) -> None:
        # A commit, even one that failed part-way, is what publishes: copy what it left.
        if self.lake is not None and invocation.function == COMMIT_FUNCTION:
            try:
                self.lake.export_commit(self._catalog)
            except OSError as error:
                # The days are in the bucket; export_lake tries again and fails loudly then.
                logging.getLogger(__name__).warning("a commit not copied to the lake directory yet: %s", error)
        if self._on_invocation is not None:
            self._on_invocation(invocation)


COMMIT_FUNCTION = function_name(statemachine.Step.COMMIT_CURATED)
SUMMARIZE_FUNCTION = function_name(statemachine.Step.SUMMARIZE)


def create_state_table():
    """The ledger and slots table, keyed as the stack's (infra/workflow.py)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=STATE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


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
def _lambda_logs_to(path: Path | None) -> Iterator[TextIO]:
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
            yield stream
        finally:
            handler.setStream(previous_stream)

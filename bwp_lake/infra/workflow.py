"""The workflow: the API credentials secret, one Lambda per state, and the state machine that
runs ``statemachine/ingest_reports.asl.json`` with their ARNs substituted in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from bwp.lake.settings import function_environment
from bwp.lake.stores import DEFAULT_STORE_ID
from constructs import Construct

from bwp_lake.definition import ASL_PATH, BUCKET_PLACEHOLDER, FUNCTION_PLACEHOLDERS, placeholders
from bwp_lake.infra.access import (
    BUCKET,
    CATALOG,
    FUNCTION_ACCESS,
    SECRET,
    STATE_MACHINE_ACCESS,
    STATE_TABLE,
    Access,
)
from bwp_lake.infra.config import InvalidConfiguration, LakeConfig, StoreSettings
from bwp_lake.infra.nag import acknowledge
from bwp_lake.infra.naming import pascal
from bwp_lake.infra.storage import LakeStorage

REPO_ROOT = Path(__file__).resolve().parents[2]

# `make build` installs the bundle's wheels for this Python; the two must change together.
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
CREDENTIAL_FIELDS = ("clientId", "clientSecret", "targetId")


class LambdaBundleMissing(FileNotFoundError):
    """The Lambda bundle directory has not been built."""


class UnknownPlaceholder(ValueError):
    """The definition names a placeholder that no function fills."""


@dataclass(frozen=True)
class StepProfile:
    """What one step's function needs: how long it may run and its memory (its access is in
    infra/access.py)."""

    timeout: Duration
    memory_mb: int = 256
    description: str = ""
    bundle: str = "core"  # the one of BUNDLES it runs from: pyarrow in landing, and pyiceberg too in iceberg


# An API call is bounded by the HTTP timeouts (5 s connect + 30 s read); with a token request
# and one refresh it is at most four of them (140 s), after a Secrets Manager read that the SDK
# bounds too. Five minutes covers that worst case with room to spare.
_API_CALL = Duration.minutes(5)

# The bundles `make build` writes under lambdaAssetDir: the same code; pyarrow in landing; pyarrow
# and pyiceberg in iceberg (both together would leave the land step too little of Lambda's 250 MB).
BUNDLES = ("core", "landing", "iceberg")

STEPS: dict[str, StepProfile] = {
    "plan_windows": StepProfile(_API_CALL, description="Validate the input, plan the windows"),
    "start_report": StepProfile(_API_CALL, description="Adopt a live task or start one"),
    "check_report": StepProfile(_API_CALL, description="reportTask status"),
    # Landing is CPU-bound (zlib, then the Parquet casts) and Lambda's CPU grows with memory up to
    # one vCPU at 1,769 MB: until there, memory buys speed at the same GB-seconds per report
    # (benchmarks/BENCHMARKS.md, "land_report's memory").
    "land_report": StepProfile(
        Duration.minutes(15), memory_mb=1769, description="Stream a report into its partition", bundle="landing"
    ),
    # A commit is metadata: the data files' footers, a manifest and a snapshot per table (about 3 s
    # for 400 days), then two copies per day published; 15 minutes leave room for a large backfill.
    "commit_curated": StepProfile(
        Duration.minutes(15),
        memory_mb=1024,
        description="Commit the landed days to the curated Iceberg tables, then publish them",
        bundle="iceberg",
    ),
    "summarize": StepProfile(Duration.minutes(1), description="One line per window, gaps"),
}


def lambda_environment(
    config: LakeConfig, bucket_name: str, secret_ids: dict[str, str], state_table: str
) -> dict[str, str]:
    """Every function's environment (bwp.lake.settings), and the level it logs at."""
    settings = config.function_settings(lake_bucket=bucket_name, state_table=state_table, secret_ids=secret_ids)
    environment = {**function_environment(settings), "LOG_LEVEL": "INFO"}
    _check_environment_size(environment, len(config.stores))
    return environment


# Lambda refuses a function whose environment (names and values) exceeds 4 KB. A secret's ARN is a
# token at synth: it is counted as long as the longest one Secrets Manager gives a secret named as
# the stack names them (the partition, region, account, name and random suffix).
LAMBDA_ENVIRONMENT_LIMIT = 4096
_TOKEN_ESTIMATE = 140


def _check_environment_size(environment: dict[str, str], stores: int) -> None:
    size = sum(len(name) + len(_estimated(value)) for name, value in environment.items())
    if size > LAMBDA_ENVIRONMENT_LIMIT:
        raise InvalidConfiguration(
            f"context stores: {stores} stores make each function's environment about {size:,} bytes, over "
            f"Lambda's {LAMBDA_ENVIRONMENT_LIMIT:,}; serve fewer stores per deployment (give stores their "
            "secrets' names, which are shorter than the ARNs of secrets the stack creates)"
        )


def _estimated(value: str) -> str:
    """``value`` with every unresolved token counted as a secret's ARN."""
    return re.sub(r"\$\{Token\[[^\]]*\]\}", "x" * _TOKEN_ESTIMATE, value)


def created_secret_name(stack_name: str, store_id: str) -> str:
    """The name of a secret the stack creates for a store: the stack's and the store's."""
    return f"{stack_name}/{store_id}/api-credentials"


@dataclass(frozen=True)
class StoreSecret:
    """A store's credentials secret, how the functions name it (name or ARN) and its name."""

    secret: secretsmanager.ISecret
    function_id: str
    name: str


class Workflow(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: LakeConfig, storage: LakeStorage) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._storage = storage
        self._check_definition()
        self._code = {bundle: self._lambda_code(bundle) for bundle in BUNDLES}
        # store id -> its credentials secret, how the functions name it and how a person finds it
        self.secrets = {store.id: self._add_secret(store) for store in config.stores}
        self.secret_names = {store_id: secret.name for store_id, secret in self.secrets.items()}
        self.state_table = self._add_state_table()
        self._environment = lambda_environment(
            config,
            storage.bucket.bucket_name,
            {store_id: secret.function_id for store_id, secret in self.secrets.items()},
            self.state_table.table_name,
        )
        self.functions = {step: self._add_function(step, STEPS[step]) for step in FUNCTION_PLACEHOLDERS.values()}
        self.state_machine = self._add_state_machine()

    def _check_definition(self) -> None:
        missing = placeholders(ASL_PATH.read_text()) - FUNCTION_PLACEHOLDERS.keys() - {BUCKET_PLACEHOLDER}
        if missing:
            raise UnknownPlaceholder(f"{ASL_PATH.name} uses {', '.join(sorted(missing))}, which no function fills")

    def _lambda_code(self, name: str) -> lambda_.Code:
        bundle = REPO_ROOT / self._config.lambda_asset_dir / name
        expected = ["bwp", *(f"{step}/handler.py" for step in FUNCTION_PLACEHOLDERS.values())]
        missing = [name for name in expected if not (bundle / name).exists()]
        if missing:
            raise LambdaBundleMissing(
                f"the Lambda bundle {bundle} is missing {', '.join(missing)}: run `make build` first "
                "(it installs lambdas/requirements*.txt for arm64 and copies the handlers)"
            )
        return lambda_.Code.from_asset(str(bundle))

    def _add_secret(self, store: StoreSettings) -> StoreSecret:
        """The store's secret: imported by its name when configured, else created (empty)."""
        # A deployment without stores keeps the secret it had before stores existed: the same
        # logical id, and the name CloudFormation gave it. Each configured store's secret is named
        # for the stack and the store (ids are unique, their PascalCase forms may not be).
        keeps_its_secret = store.id == DEFAULT_STORE_ID
        construct_id = "Credentials" if keeps_its_secret else f"Credentials-{store.id}"
        name = store.credentials_secret_name
        if name:
            secret = secretsmanager.Secret.from_secret_name_v2(self, construct_id, name)
            acknowledge(
                self,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                f"<AWS::AccountId>:secret:{name}-??????]",
                "An imported secret is known by name; the six wildcards match only its random ARN suffix.",
            )
            return StoreSecret(secret, function_id=name, name=name)
        # Created with empty fields: the values are issued in the Buy with Prime merchant console
        # and are filled in once after deploy, never through the template.
        chosen_name = None if keeps_its_secret else created_secret_name(self._config.stack_name, store.id)
        secret = secretsmanager.Secret(
            self,
            construct_id,
            secret_name=chosen_name,
            description=f"Buy with Prime API credentials of store {store.id}: clientId, clientSecret, targetId",
            secret_object_value={field: SecretValue.unsafe_plain_text("") for field in CREDENTIAL_FIELDS},
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The client secret is issued in the Buy with Prime merchant console; AWS cannot rotate it.",
        )
        return StoreSecret(secret, function_id=secret.secret_arn, name=chosen_name or secret.secret_name)

    def _add_state_table(self) -> dynamodb.Table:
        """What outlives an execution: the task ledger and the API's task slots.

        Conditional writes make a slot one window's at a time, across executions; destroying
        the stack loses only coordination, never data (the manifests say what has landed).
        """
        return dynamodb.Table(
            self,
            "State",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expiresAt",
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _add_function(self, step: str, profile: StepProfile) -> lambda_.Function:
        name = pascal(step)
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        # An own role per function, so that each gets exactly its grants and no managed policy.
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            name,
            description=profile.description,
            runtime=LAMBDA_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=self._code[profile.bundle],
            handler=f"{step}.handler.handler",
            timeout=profile.timeout,
            memory_size=profile.memory_mb,
            environment=self._environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions.",
        )
        self._grant(role, FUNCTION_ACCESS[step])
        return function

    def _add_state_machine(self) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # The vendedlogs prefix keeps Step Functions clear of the Logs resource-policy size limit.
            log_group_name=f"/aws/vendedlogs/states/{self._config.stack_name}-IngestReports",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        state_machine = sfn.StateMachine(
            self,
            "IngestReports",
            state_machine_name=self._state_machine_name,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_PATH)),
            definition_substitutions={
                **{
                    placeholder: self.functions[step].function_arn
                    for placeholder, step in FUNCTION_PLACEHOLDERS.items()
                },
                BUCKET_PLACEHOLDER: self._storage.bucket.bucket_name,
            },
            # The execution timeout is the definition's TimeoutSeconds: CDK cannot add it to a
            # definition read from a file, and the local engine reads the same file.
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._allow_child_executions(state_machine)
        self._grant(state_machine.role, STATE_MACHINE_ACCESS)
        for function in self.functions.values():
            function.grant_invoke(state_machine)
            acknowledge(
                state_machine.role,
                f"AwsSolutions-IAM5[Resource::<{self._logical_id(function)}.Arn>:*]",
                "Invoking a function also covers its versions and aliases (the ARN plus :*).",
            )
        acknowledge(
            state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Log delivery (logs:*LogDelivery*) and X-Ray writes have no resource-level permissions.",
        )
        return state_machine

    @property
    def _state_machine_name(self) -> str:
        return f"{self._config.stack_name}-IngestReports"

    def _allow_child_executions(self, state_machine: sfn.StateMachine) -> None:
        """The Distributed Map runs each window as a child execution of this state machine.

        ``state_machine.grant_start_execution(state_machine.role)`` would make the role's policy
        refer to the state machine that depends on it (a cycle), so the ARNs are built from the
        state machine's fixed name instead.
        """
        stack = Stack.of(self)
        itself = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self._state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self._state_machine_name}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        state_machine.add_to_role_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[itself]))
        state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution", "states:StopExecution"], resources=[executions])
        )
        acknowledge(
            state_machine.role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{self._state_machine_name}/*]",
            "The Distributed Map describes and stops its own child executions, whose names it generates.",
        )

    def _grant(self, role: iam.IRole, accesses: tuple[Access, ...]) -> None:
        """One statement per access: its actions, on its resource or its key prefix."""
        bucket = self._storage.bucket
        for access in accesses:
            conditions = None
            if access.on == SECRET:
                # Every configured store's secret, each by its own ARN. An imported secret is
                # known by name: its ARN ends in six random characters, which the pattern matches.
                resources = [
                    store.secret.secret_full_arn or f"{store.secret.secret_arn}-??????"
                    for store in self.secrets.values()
                ]
            elif access.on == STATE_TABLE:
                resources = [self.state_table.table_arn]
            elif access.on == CATALOG:
                resources = self._catalog_arns(role)
            elif access.on == BUCKET:
                resources = [bucket.bucket_arn]
                conditions = {"StringLike": {"s3:prefix": [f"{access.prefix}*"]}}
            else:
                resources = [bucket.arn_for_objects(f"{access.prefix}*")]
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::<{self._logical_id(bucket)}.Arn>/{access.prefix}*]",
                    f"Keys under {access.prefix} are named per report type and day or per execution: "
                    "the wildcard is the key prefix.",
                )
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=list(access.actions), resources=resources, conditions=conditions)
            )

    def _catalog_arns(self, role: iam.IRole) -> list[str]:
        """The lake's Glue database and its tables (a table's actions need the catalog and the
        database as well)."""
        stack, database = Stack.of(self), self._storage.database_name
        tables = f"table/{database}/*"
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:{tables}]",
            "The committer creates each report type's Iceberg table in the lake's database on its first commit.",
        )
        return [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=database),
            stack.format_arn(service="glue", resource="table", resource_name=f"{database}/*"),
        ]

    def _logical_id(self, construct: Construct) -> str:
        """How cdk-nag names a resource in the findings of a policy that refers to it."""
        return Stack.of(self).get_logical_id(construct.node.default_child)

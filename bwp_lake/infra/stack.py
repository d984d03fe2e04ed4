"""The one stack: it composes the constructs and publishes what a person or `bwp-lake` needs."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack, Tags
from constructs import Construct

from bwp_lake.infra import outputs
from bwp_lake.infra.config import LakeConfig
from bwp_lake.infra.monitoring import Monitoring
from bwp_lake.infra.schedule import IngestSchedule
from bwp_lake.infra.storage import LakeStorage
from bwp_lake.infra.workflow import Workflow


class ReportLakeStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: LakeConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Buy with Prime analytics reports landed daily in an S3 lake, queryable in Athena",
        )
        self.config = config
        # Dashboards take tags only in CloudFormation schemas newer than the pinned cfn-lint's.
        Tags.of(self).add("project", "bwp-report-lake", exclude_resource_types=["AWS::CloudWatch::Dashboard"])
        self.storage = LakeStorage(self, "Storage", config=config)
        self.workflow = Workflow(self, "Workflow", config=config, storage=self.storage)
        self.schedule = IngestSchedule(self, "Schedule", config=config, state_machine=self.workflow.state_machine)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=self.workflow.state_machine,
            functions=self.workflow.functions,
            dead_letter_queue=self.schedule.dead_letter_queue,
        )
        self._add_outputs()

    def _add_outputs(self) -> None:
        region = Aws.REGION
        console = f"https://{region}.console.aws.amazon.com"
        state_machine_arn = self.workflow.state_machine.state_machine_arn
        values = {
            outputs.STATE_MACHINE_ARN: (state_machine_arn, "Ingestion state machine"),
            outputs.DATA_BUCKET: (self.storage.bucket.bucket_name, "The lake's bucket"),
            outputs.STATE_TABLE: (
                self.workflow.state_table.table_name,
                "Task ledger and report task slots, shared by every execution",
            ),
            outputs.WORKGROUP: (self.storage.workgroup_name, "Athena workgroup to query the lake with"),
            outputs.DATABASE: (self.storage.database_name, "Glue database of the raw tables and views"),
            outputs.CREDENTIALS_SECRETS: (
                self.to_json_string(self.workflow.secret_names),
                "Each store's API credentials secret (store id: secret name). Put a store's value once: "
                "aws secretsmanager put-secret-value --secret-id <secret name> --secret-string "
                '\'{"clientId":"...","clientSecret":"...","targetId":"..."}\'',
            ),
            outputs.STORE_IDS: (
                ",".join(store.id for store in self.config.stores),
                "The stores this deployment serves; the schedule starts one execution for each",
            ),
            outputs.STATE_MACHINE_CONSOLE: (
                f"{console}/states/home?region={region}#/statemachines/view/{state_machine_arn}",
                "Start an execution here (see README for the input)",
            ),
            outputs.ATHENA_CONSOLE: (
                f"{console}/athena/home?region={region}#/query-editor",
                "Athena query editor (choose the workgroup above)",
            ),
            outputs.DASHBOARD_CONSOLE: (
                f"{console}/cloudwatch/home?region={region}#dashboards/dashboard/"
                f"{self.monitoring.dashboard.dashboard_name}",
                "Runs, partitions landed, errors",
            ),
        }
        for name, (value, description) in values.items():
            CfnOutput(self, name, value=value, description=description)

"""The daily run: an EventBridge Scheduler schedule (UTC) that starts the state machine with a
look-back, retries a failed start, and parks what it could not deliver in a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bwp_lake.infra.config import LakeConfig
from bwp_lake.infra.nag import acknowledge

# Scheduler retries only a failed StartExecution (throttled, state machine missing), not a
# failed execution: a few attempts within two hours, then the event goes to the queue.
START_RETRY_ATTEMPTS = 5
START_MAX_EVENT_AGE = Duration.hours(2)


def schedule_input(config: LakeConfig) -> dict:
    """What each scheduled execution starts with (the execution input of bwp.windows)."""
    scheduled = {
        "lookbackDays": config.lookback_days,
        "reportTypes": list(config.report_types),
        "maxConcurrency": config.max_concurrency,
    }
    if config.backfill_from:
        # Each run also lands the oldest days since backfillFrom that have no partition yet.
        scheduled |= {"backfillFrom": config.backfill_from, "maxBackfillWindows": config.max_backfill_windows}
    return scheduled


class IngestSchedule(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: LakeConfig, state_machine: sfn.IStateMachine
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.dead_letter_queue = self._add_dead_letter_queue()
        self.schedule = self._add_schedule(state_machine)

    def _add_dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(queue, "AwsSolutions-SQS3", "This queue is the schedule's dead-letter queue.")
        return queue

    def _add_schedule(self, state_machine: sfn.IStateMachine) -> scheduler.Schedule:
        return scheduler.Schedule(
            self,
            "Daily",
            description="Ingest the last days' Buy with Prime reports",
            schedule=scheduler.ScheduleExpression.expression(self._config.schedule_expression, TimeZone.ETC_UTC),
            target=targets.StepFunctionsStartExecution(
                state_machine,
                input=scheduler.ScheduleTargetInput.from_object(schedule_input(self._config)),
                retry_attempts=START_RETRY_ATTEMPTS,
                max_event_age=START_MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letter_queue,
            ),
        )

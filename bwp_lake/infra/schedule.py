"""The daily run: one EventBridge Scheduler schedule (UTC) per store, each starting one execution
of the state machine for its store with a look-back; a failed start is retried, and what could not
be delivered is parked in a dead-letter queue.

One execution per store, not one for all: a store whose credentials are refused or whose days fail
fails its own execution (named in its input, its summary and its cause), a healthy store's
execution still reports success, and a slow store never holds another's Map concurrency."""

from __future__ import annotations

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bwp_lake.infra.config import LakeConfig, StoreSettings
from bwp_lake.infra.nag import acknowledge

# Scheduler retries only a failed StartExecution (throttled, state machine missing), not a
# failed execution: a few attempts within two hours, then the event goes to the queue.
START_RETRY_ATTEMPTS = 5
START_MAX_EVENT_AGE = Duration.hours(2)


def schedule_input(config: LakeConfig, store: StoreSettings) -> dict:
    """What a store's scheduled execution starts with (the execution input of bwp.windows)."""
    scheduled = {
        "stores": [store.id],
        "lookbackDays": config.lookback_days,
        "reportTypes": list(store.report_types),
        "maxConcurrency": config.max_concurrency,
    }
    if store.backfill_from:
        # Each run also lands the store's oldest days since backfillFrom that have no partition
        # yet: a store added later fills its history by itself.
        scheduled |= {"backfillFrom": store.backfill_from, "maxBackfillWindows": config.max_backfill_windows}
    return scheduled


class IngestSchedule(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: LakeConfig, state_machine: sfn.IStateMachine
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.dead_letter_queue = self._add_dead_letter_queue()
        self.schedules = {store.id: self._add_schedule(state_machine, store) for store in config.stores}

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

    def _add_schedule(self, state_machine: sfn.IStateMachine, store: StoreSettings) -> scheduler.Schedule:
        return scheduler.Schedule(
            self,
            f"Daily-{store.id}",
            description=f"Ingest the last days' Buy with Prime reports of store {store.id}",
            schedule=scheduler.ScheduleExpression.expression(self._config.schedule_expression, TimeZone.ETC_UTC),
            target=targets.StepFunctionsStartExecution(
                state_machine,
                input=scheduler.ScheduleTargetInput.from_object(schedule_input(self._config, store)),
                retry_attempts=START_RETRY_ATTEMPTS,
                max_event_age=START_MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letter_queue,
            ),
        )

"""Monitoring: an encrypted alarm topic, the alarms that say a run went wrong or that data stopped
arriving, and one dashboard."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from bwp.lake import contract
from bwp.lake.partition import Series
from constructs import Construct

from bwp_lake.infra.config import LakeConfig
from bwp_lake.infra.naming import pascal

# Functions raise named errors that the state machine retries (throttling, an expired link):
# a few an hour is the workflow doing its job, more means trouble even while runs succeed.
LAMBDA_ERRORS_PER_HOUR = 5
GAP_DAYS = 2


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: LakeConfig,
        state_machine: sfn.StateMachine,
        functions: dict[str, lambda_.Function],
        dead_letter_queue: sqs.Queue,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.topic = self._add_topic()
        self.execution_alarms = self._add_execution_alarms(state_machine)
        self.function_alarms = self._add_function_alarms(functions)
        self.dead_letter_alarm = self._add_dead_letter_alarm(dead_letter_queue)
        self.freshness_alarms = self._add_freshness_alarms()
        self.gap_alarms = self._add_gap_alarms()
        self.dashboard = self._add_dashboard(state_machine, functions, dead_letter_queue)

    @property
    def alarms(self) -> list[cw.Alarm]:
        return [
            *self.execution_alarms,
            *self.function_alarms,
            self.dead_letter_alarm,
            *self.freshness_alarms,
            *self.gap_alarms,
        ]

    def _add_topic(self) -> sns.Topic:
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the topic has
        # its own key, which grant_publish opens to CloudWatch alarms of this account only.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the report lake's alarm notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        topic = sns.Topic(
            self, "Alarms", display_name="Buy with Prime report lake alarms", master_key=key, enforce_ssl=True
        )
        topic.grant_publish(
            iam.ServicePrincipal(
                "cloudwatch.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        if self._config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self._config.alarm_email))
        return topic

    def _alarm(self, construct_id: str, description: str, *, notify_ok: bool = False, **props) -> cw.Alarm:
        alarm = cw.Alarm(self, construct_id, alarm_description=description, **props)
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        # Event alarms (a failed run) clear by themselves minutes later: an "OK" then would read
        # as "fixed". Only a state that recovers (data arriving again) is worth a second message.
        if notify_ok:
            alarm.add_ok_action(action)
        return alarm

    def _add_execution_alarms(self, state_machine: sfn.StateMachine) -> list[cw.Alarm]:
        outcomes = {
            "ExecutionsFailed": ("failed", state_machine.metric_failed),
            "ExecutionsTimedOut": ("timed out", state_machine.metric_timed_out),
            "ExecutionsAborted": ("was aborted", state_machine.metric_aborted),
        }
        return [
            self._alarm(
                construct_id,
                f"An ingestion execution {outcome}: see its events in the console, then re-run its days",
                metric=metric(period=Duration.minutes(5), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            for construct_id, (outcome, metric) in outcomes.items()
        ]

    def _add_function_alarms(self, functions: dict[str, lambda_.Function]) -> list[cw.Alarm]:
        return [
            self._alarm(
                f"{pascal(step)}Errors",
                f"The {step} function failed at least {LAMBDA_ERRORS_PER_HOUR} times within an hour",
                metric=function.metric_errors(period=Duration.hours(1), statistic="Sum"),
                threshold=LAMBDA_ERRORS_PER_HOUR,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            for step, function in functions.items()
        ]

    def _add_dead_letter_alarm(self, queue: sqs.Queue) -> cw.Alarm:
        return self._alarm(
            "ScheduleDeadLetters",
            "The schedule could not start an execution: the run was skipped; see the dead-letter queue",
            metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _add_freshness_alarms(self) -> list[cw.Alarm]:
        # Every run's Summarize reports, per store and report type that has ever landed, the hours
        # since its newest manifest was written. A new deployment reports nothing until its first partition
        # lands, and nothing reported is not breaching: it starts quiet instead of paging before the
        # first scheduled run. A daily period keeps a run's figure in force until the next run's.
        return self._per_series_alarms(
            "Freshness",
            lambda series: f"No {series} partition has landed for {contract.FRESHNESS_HOURS} hours",
            lambda series: landing_metric(contract.HOURS_SINCE_LAST_LANDING, series, Duration.days(1), "Maximum"),
            periods=1,
            threshold=contract.FRESHNESS_HOURS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _add_gap_alarms(self) -> list[cw.Alarm]:
        # Every run counts the partitions still missing in the days it answers for (backfillFrom
        # to today, or its own range). One bad night is healed by the next run's look-back or
        # backfill; missing days on two daily runs in a row need a person.
        return self._per_series_alarms(
            "Gaps",
            lambda series: (
                f"{series} partitions are still missing after two daily runs: "
                f"`bwp-lake gaps --store {series.store}` lists them"
            ),
            lambda series: landing_metric(contract.PARTITIONS_MISSING, series, Duration.days(1), "Minimum"),
            periods=GAP_DAYS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _per_series_alarms(
        self,
        kind: str,
        description: Callable[[Series], str],
        metric: Callable[[Series], cw.IMetric],
        *,
        periods: int,
        threshold: float = 1,
        **props,
    ) -> list[cw.Alarm]:
        """One alarm per store and report type it ingests, raised only when every one of
        ``periods`` periods breaches ``threshold``, and announced again when it clears."""
        return [
            self._alarm(
                # The store id as it is: ids are unique, their PascalCase forms may not be.
                f"{kind}-{series.store}-{pascal(series.report_type)}",
                description(series),
                metric=metric(series),
                threshold=threshold,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                notify_ok=True,
                **props,
            )
            for series in self._series
        ]

    @property
    def _series(self) -> list[Series]:
        return [Series(store.id, report_type) for store in self._config.stores for report_type in store.report_types]

    def _add_dashboard(
        self, state_machine: sfn.StateMachine, functions: dict[str, lambda_.Function], queue: sqs.Queue
    ) -> cw.Dashboard:
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=self._config.stack_name)
        daily = Duration.days(1)
        hourly = Duration.hours(1)
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=4))
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=daily, statistic="Sum"),
                    state_machine.metric_succeeded(period=daily, statistic="Sum"),
                    state_machine.metric_failed(period=daily, statistic="Sum"),
                    state_machine.metric_timed_out(period=daily, statistic="Sum"),
                    state_machine.metric_aborted(period=daily, statistic="Sum"),
                ],
                width=6,
            ),
            cw.GraphWidget(
                title="Function errors",
                left=[function.metric_errors(period=hourly, statistic="Sum") for function in functions.values()],
                width=6,
            ),
            cw.GraphWidget(
                title="Function duration (p99)",
                left=[function.metric_duration(period=hourly, statistic="p99") for function in functions.values()],
                width=6,
            ),
            cw.GraphWidget(
                title="Schedule dead letters",
                left=[queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5))],
                width=6,
            ),
        )
        # One row per store: its report types' figures side by side, each store on its own.
        for store in self._config.stores:
            series = [Series(store.id, report_type) for report_type in store.report_types]
            dashboard.add_widgets(
                *(
                    cw.GraphWidget(
                        title=f"{store.id}: {title}", left=per_series(name, series, daily, statistic), width=6
                    )
                    for title, name, statistic in _STORE_FIGURES
                )
            )
        return dashboard


# Each store's row of the dashboard: (title, metric, statistic), one line per report type.
_STORE_FIGURES = (
    ("partitions landed per day", contract.PARTITIONS_LANDED, "Sum"),
    ("rows landed per day", contract.ROWS_LANDED, "Sum"),
    ("report generation (seconds, p90)", contract.REPORT_GENERATION_SECONDS, "p90"),
    ("partitions missing after each day's runs", contract.PARTITIONS_MISSING, "Minimum"),
)


def per_series(name: str, series: list[Series], period: Duration, statistic: str) -> list[cw.IMetric]:
    """One line per series, labelled with its report type."""
    return [landing_metric(name, one, period, statistic).with_(label=one.report_type) for one in series]


def landing_metric(name: str, series: Series, period: Duration, statistic: str = "Sum") -> cw.Metric:
    """A metric the functions emit through Powertools (EMF), per store and report type."""
    return cw.Metric(
        namespace=contract.NAMESPACE,
        metric_name=name,
        dimensions_map={
            "service": contract.SERVICE,
            contract.STORE_DIMENSION: series.store,
            contract.REPORT_TYPE_DIMENSION: series.report_type,
        },
        statistic=statistic,
        period=period,
    )

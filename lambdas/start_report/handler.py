"""Start report: startReportTask for one window."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import StartReportEvent
from bwp.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return steps.start_report(
        dependencies.api_client(),
        dependencies.state_table(),
        dependencies.settings(),
        StartReportEvent.model_validate(event),
    ).to_wire()

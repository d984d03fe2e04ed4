"""Check report: reportTask, and how long to wait before the next check."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import CheckReportEvent
from bwp.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return steps.check_report(
        dependencies.api_client(),
        dependencies.state_table(),
        dependencies.settings(),
        CheckReportEvent.model_validate(event),
    ).to_wire()

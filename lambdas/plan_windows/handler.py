"""Plan windows: validate the execution input and expand it into (report type, day) windows."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import PlanWindowsEvent
from bwp.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    planned = steps.plan(
        dependencies.api_client(),
        dependencies.s3_client(),
        dependencies.settings(),
        PlanWindowsEvent.model_validate(event),
    )
    return planned.model_dump(mode="json", by_alias=True)

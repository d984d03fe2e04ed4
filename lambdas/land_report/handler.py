"""Land report: stream the CSV into its partition, then write the manifest."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import LandReportEvent
from bwp.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    landed = steps.land_report(
        dependencies.api_client(),
        dependencies.s3_client(),
        dependencies.state_table(),
        dependencies.http_session(),
        dependencies.settings(),
        LandReportEvent.model_validate(event),
    )
    return landed.to_wire()

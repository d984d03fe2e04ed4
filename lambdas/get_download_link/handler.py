"""Get download link: reportDownloadLink, with the link's host checked against the allowlist."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import GetDownloadLinkEvent
from bwp.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    link = steps.get_download_link(
        dependencies.api_client(), dependencies.settings(), GetDownloadLinkEvent.model_validate(event)
    )
    return link.to_wire()

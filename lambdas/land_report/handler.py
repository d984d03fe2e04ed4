"""Land report: stream the CSV into its partition, then write the manifest."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import LandReportEvent
from bwp.observability import observed


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    return steps.land_report(
        dependencies.api_client(),
        dependencies.s3_client(),
        dependencies.state_table(),
        dependencies.http_session(),
        dependencies.settings(),
        dependencies.clock(),
        LandReportEvent.model_validate(event),
    ).to_wire()

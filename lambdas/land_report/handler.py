"""Land report: stream the CSV under staging/ and type it into its Parquet file; publish both into
the partition, then write the manifest."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies
from bwp.models import LandReportEvent
from bwp.observability import observed
from bwp.states import land_report


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    parsed = LandReportEvent.model_validate(event)
    return land_report.land_report(
        client=dependencies.api_client(parsed.window.store),
        s3=dependencies.s3_client(),
        table=dependencies.state_table(),
        session=dependencies.http_session(),
        settings=dependencies.settings(),
        clock=dependencies.clock(),
        event=parsed,
    ).to_wire()

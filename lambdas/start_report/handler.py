"""Start report: startReportTask for one window."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies
from bwp.models import StartReportEvent
from bwp.observability import observed
from bwp.states import start_report


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    parsed = StartReportEvent.model_validate(event)
    return start_report.start_report(
        dependencies.api_client(parsed.window.store),
        dependencies.state_table(),
        dependencies.settings(),
        dependencies.clock(),
        parsed,
    ).to_wire()

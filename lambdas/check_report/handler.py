"""Check report: reportTask, and how long to wait before the next check."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies
from bwp.models import CheckReportEvent
from bwp.observability import observed
from bwp.states import check_report


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    parsed = CheckReportEvent.model_validate(event)
    return check_report.check_report(
        dependencies.api_client(parsed.window.store),
        dependencies.state_table(),
        dependencies.settings(),
        dependencies.clock(),
        parsed,
    ).to_wire()

"""Plan windows: validate the execution input and expand it into (store, report type, day) windows."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies
from bwp.models import PlanWindowsEvent
from bwp.observability import observed
from bwp.states import plan_windows


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    return plan_windows.plan(
        dependencies.api_client,
        dependencies.s3_client(),
        dependencies.state_table(),
        dependencies.settings(),
        dependencies.clock(),
        PlanWindowsEvent.model_validate(event),
    ).to_wire()

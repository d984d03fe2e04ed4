"""Summarize: one line per window; the state machine fails the execution if any failed."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies, steps
from bwp.models import SummarizeEvent
from bwp.observability import observed


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    return steps.summarize(
        dependencies.s3_client(),
        dependencies.state_table(),
        dependencies.settings(),
        dependencies.clock(),
        SummarizeEvent.model_validate(event),
    ).to_wire()

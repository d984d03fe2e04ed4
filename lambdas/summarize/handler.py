"""Summarize: one line per window; the state machine fails the execution if any failed."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies
from bwp.models import SummarizeEvent
from bwp.observability import observed
from bwp.states import summarize


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    return summarize.summarize(
        dependencies.s3_client(),
        dependencies.state_table(),
        dependencies.settings(),
        dependencies.clock(),
        SummarizeEvent.model_validate(event),
    ).to_wire()

"""Commit curated tables: every landed window's data file into its table, one snapshot per table;
then each committed day's raw report and manifest published."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from bwp import dependencies
from bwp.models import CommitCuratedEvent
from bwp.observability import observed
from bwp.states import commit_curated


@observed
def handler(event: dict, context: LambdaContext) -> dict:
    return commit_curated.commit_curated(
        s3=dependencies.s3_client(),
        table=dependencies.state_table(),
        catalog=dependencies.lake_catalog(),
        settings=dependencies.settings(),
        clock=dependencies.clock(),
        event=CommitCuratedEvent.model_validate(event),
    ).to_wire()

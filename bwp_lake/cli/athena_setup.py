"""``bwp-lake create-views``: create (or replace) the typed Athena views of the deployed stack.

CloudFormation has no Athena view resource; the stack deploys each view's DDL as a named query
in its workgroup, and this command runs those, so the views always match the deployed tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from bwp_lake.cli.deployed import StackNotUsable, add_stack_command, client, stack_output_values
from bwp_lake.infra.outputs import DATABASE, VIEW_QUERY_PREFIX, WORKGROUP

FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


class ViewQueryFailed(Exception):
    """Athena refused or failed a view's DDL; the message carries Athena's reason."""


class ViewQueryTimedOut(Exception):
    """A view's DDL was still running when the timeout ran out."""


class NoViewQueries(Exception):
    """The workgroup holds no view DDL: the stack predates the views, or is not ours."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_stack_command(
        subparsers,
        "create-views",
        run,
        help="create or replace the typed Athena views of the deployed stack",
        description="Run the typed views' DDL, deployed as named queries, in the stack's Athena workgroup.",
    )
    parser.add_argument("--timeout-seconds", type=float, default=120.0, help="per view (default 120)")


def run(args: argparse.Namespace) -> int:
    try:
        workgroup, database = stack_output_values(args, WORKGROUP, DATABASE)
        athena = client(args, "athena")
        for name, sql in view_queries(athena, workgroup):
            run_query(athena, sql, workgroup=workgroup, database=database, timeout_seconds=args.timeout_seconds)
            print(f"view {name}: created in {database}")
    except (StackNotUsable, NoViewQueries, ViewQueryFailed, ViewQueryTimedOut) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def view_queries(athena: Any, workgroup: str) -> list[tuple[str, str]]:
    """(view name, DDL) of every view's named query in the workgroup, by view name."""
    ids: list[str] = []
    request: dict[str, Any] = {"WorkGroup": workgroup}
    while True:
        page = athena.list_named_queries(**request)
        ids.extend(page.get("NamedQueryIds", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    queries = [athena.get_named_query(NamedQueryId=query_id)["NamedQuery"] for query_id in ids]
    views = sorted(
        (query["Name"].removeprefix(VIEW_QUERY_PREFIX), query["QueryString"])
        for query in queries
        if query["Name"].startswith(VIEW_QUERY_PREFIX)
    )
    if not views:
        raise NoViewQueries(f"workgroup {workgroup} has no '{VIEW_QUERY_PREFIX}...' named queries")
    return views


def run_query(
    athena: Any,
    sql: str,
    *,
    workgroup: str,
    database: str,
    timeout_seconds: float,
    poll_seconds: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Run one statement in the workgroup (which sets where results go) and wait for its end."""
    query_id = athena.start_query_execution(
        QueryString=sql, WorkGroup=workgroup, QueryExecutionContext={"Database": database}
    )["QueryExecutionId"]
    deadline = clock() + timeout_seconds
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            return query_id
        if status["State"] in FINISHED:
            reason = status.get("StateChangeReason", "no reason given")
            raise ViewQueryFailed(f"query {query_id} {status['State']}: {reason}")
        if clock() >= deadline:
            raise ViewQueryTimedOut(f"query {query_id} still {status['State']} after {timeout_seconds:g} s")
        sleep(poll_seconds)

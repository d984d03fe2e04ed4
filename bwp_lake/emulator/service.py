"""The reporting API's behaviour, free of HTTP: one facade over auth, tasks and downloads, plus
GraphQL and the control endpoints.

Every method takes what the request carried and returns an ``Answer`` (or, for a GraphQL field,
its data); ``emulator.server`` only moves bytes. The facade counts every call and checks every
GraphQL call's token and target before a field runs.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from graphql import GraphQLError, execute, get_operation_ast, parse, validate
from graphql.language import FieldNode

from bwp_lake.emulator.answers import Answer, json_answer, load_balancer_error
from bwp_lake.emulator.auth import Auth, Signer
from bwp_lake.emulator.clock import Clock, iso_millis
from bwp_lake.emulator.config import EmulatorConfig
from bwp_lake.emulator.downloads import Downloads
from bwp_lake.emulator.faults import FaultSwitches
from bwp_lake.emulator.schema import OPERATIONS, SCHEMA, api_error, document_error
from bwp_lake.emulator.tasks import TaskBoard

logger = logging.getLogger(__name__)


class ReportingApi:
    def __init__(self, config: EmulatorConfig, clock: Clock, faults: FaultSwitches) -> None:
        self.config = config
        self.clock = clock
        self.faults = faults
        signer = Signer()
        self.auth = Auth(config, clock, faults, signer)
        self.tasks = TaskBoard(config, clock, faults)
        self.downloads = Downloads(config, clock, faults, signer, self.tasks)
        self._lock = threading.Lock()
        self._calls = dict.fromkeys(("token", *OPERATIONS, "download"), 0)

    # --- POST /token -----------------------------------------------------------------------------
    def token(self, body: bytes, authorization: str | None) -> Answer:
        self._count("token")
        return self.auth.token(body, authorization)

    # --- POST /graphql ---------------------------------------------------------------------------
    def graphql(self, body: bytes, headers: dict[str, str], host: str) -> Answer:
        try:
            request = json.loads(body or b"null")
        except ValueError:
            return json_answer(400, {"errors": [{"message": "The request body is not JSON"}]})
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return json_answer(400, {"errors": [{"message": 'Expected a JSON object with a "query" string'}]})
        variables, operation_name = request.get("variables"), request.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            return json_answer(400, {"errors": [{"message": '"variables" must be a JSON object'}]})
        try:
            document = parse(request["query"])
        except GraphQLError as error:
            return json_answer(200, {"errors": [document_error(error, "InvalidSyntax")]})
        if problems := validate(SCHEMA, document):
            return json_answer(200, {"errors": [document_error(error, "InvalidQuery") for error in problems]})
        for name in _operation_fields(document, operation_name):
            self._count(name)
        if self.faults.roll("http_500_rate"):
            return load_balancer_error()
        refusal = self._refusal(headers)
        result = execute(
            SCHEMA,
            document,
            root_value=_Root(self, refusal, host),
            variable_values=variables,
            operation_name=operation_name,
        )
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_formatted(error) for error in result.errors]
        payload["data"] = result.data
        return json_answer(200, payload)

    def _refusal(self, headers: dict[str, str]) -> GraphQLError | None:
        """The error every field of this call gets before it runs: auth first, then injected faults."""
        if problem := self.auth.token_problem(headers.get("authorization")):
            return api_error("AccessDenied", problem)
        target = headers.get("x-api-target-id")
        if target != self.config.target_id:
            shown = "missing" if target is None else f"{target!r}, not a target these credentials may use"
            return api_error("AccessDenied", f"x-api-target-id is {shown}")
        if self.faults.roll("throttle_rate"):
            return api_error("Throttling", "Rate exceeded")
        if self.faults.roll("internal_error_rate"):
            return api_error("InternalServer", "An internal error occurred; retry the request")
        return None

    # --- the three operations --------------------------------------------------------------------
    def start_report_task(self, request: dict[str, Any], target_id: str) -> dict[str, str]:
        return self.tasks.start(request, target_id)

    def report_task(self, task_id: str) -> dict[str, str]:
        return self.tasks.status(task_id)

    def report_download_link(self, task_id: str, host: str) -> dict[str, str]:
        return self.downloads.link(task_id, host)

    # --- GET /downloads/... ------------------------------------------------------------------------
    def download(self, path: str, query: str, range_header: str | None, *, head: bool) -> Answer:
        if not head:
            self._count("download")
        return self.downloads.serve(path, query, range_header, head=head)

    # --- control -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        tasks = self.tasks.state(now)
        with self._lock:
            calls = dict(self._calls)
        return {
            "now": iso_millis(now),
            "tasks": tasks["tasks"],
            "calls": calls,
            "maxConcurrentInProgress": tasks["maxConcurrentInProgress"],
            "faults": self.faults.as_dict(),
        }

    def reset(self) -> None:
        """Forget tasks, counts and faults; the clock keeps its time (it never goes back)."""
        self.tasks.clear()
        with self._lock:
            self._calls = dict.fromkeys(self._calls, 0)
        self.downloads.rearm()
        self.faults.reset()

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.faults.update(**changes)
        if "drop_download_after_bytes" in changes:
            self.downloads.rearm()
        return self.faults.as_dict()

    def _count(self, name: str) -> None:
        with self._lock:
            self._calls[name] += 1


class _Root:
    """GraphQL resolvers for one call; a refused call fails every field it asks for."""

    def __init__(self, api: ReportingApi, refusal: GraphQLError | None, host: str) -> None:
        self._api, self._refusal, self._host = api, refusal, host

    def _allow(self) -> None:
        if self._refusal is not None:
            raise self._refusal

    def startReportTask(self, info: Any, input: dict[str, Any]) -> dict[str, str]:
        self._allow()
        return self._api.start_report_task(input, self._api.config.target_id)

    def reportTask(self, info: Any, taskId: str) -> dict[str, str]:
        self._allow()
        return self._api.report_task(taskId)

    def reportDownloadLink(self, info: Any, taskId: str) -> dict[str, str]:
        self._allow()
        return self._api.report_download_link(taskId, self._host)


def _operation_fields(document: Any, operation_name: str | None) -> list[str]:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    return [
        node.name.value
        for node in operation.selection_set.selections
        if isinstance(node, FieldNode) and node.name.value in OPERATIONS
    ]


def _formatted(error: GraphQLError) -> dict[str, Any]:
    if error.extensions:
        return error.formatted
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        logger.error("resolver failed", exc_info=error.original_error)
        formatted = error.formatted
        formatted["extensions"] = api_error("InternalServer", "internal error").extensions
        return formatted
    return document_error(error, "InvalidQuery")  # e.g. a variable of the wrong type

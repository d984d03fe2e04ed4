"""The reporting API's behaviour, free of HTTP: one facade over auth, tasks and downloads, plus
GraphQL and the control endpoints. Several merchants share one emulator; each call acts for the
merchant its token was issued to, and sees only that merchant's tasks.

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
from bwp_lake.emulator.auth import Auth, Signer, TokenRefused
from bwp_lake.emulator.clock import Clock, iso_millis
from bwp_lake.emulator.config import EmulatorConfig, Merchant
from bwp_lake.emulator.downloads import Downloads, task_of
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
        self._calls = _no_calls()
        self._merchant_calls = {merchant.target_id: _no_calls() for merchant in config.merchants}

    # --- POST /token -----------------------------------------------------------------------------
    def token(self, body: bytes, authorization: str | None) -> Answer:
        answer, target_id = self.auth.token(body, authorization)
        self._count("token", target_id)
        return answer

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
        try:
            caller, refusal = self.auth.caller(headers.get("authorization")), None
        except TokenRefused as refused:
            caller, refusal = None, api_error("AccessDenied", str(refused))
        for name in _operation_fields(document, operation_name):
            self._count(name, caller and caller.target_id)
        if self.faults.roll("http_500_rate"):
            return load_balancer_error()
        if caller is not None:
            refusal = self._refusal(caller, headers.get("x-api-target-id"))
        result = execute(
            SCHEMA,
            document,
            root_value=_Root(self, caller, refusal, host),
            variable_values=variables,
            operation_name=operation_name,
        )
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_formatted(error) for error in result.errors]
        payload["data"] = result.data
        return json_answer(200, payload)

    def _refusal(self, caller: Merchant, target: str | None) -> GraphQLError | None:
        """The error every field of an authenticated call gets before it runs: the target id the
        token was issued for (another merchant's is refused as any other is), then injected faults."""
        if target != caller.target_id:
            shown = "missing" if target is None else f"{target!r}, not a target these credentials may use"
            return api_error("AccessDenied", f"x-api-target-id is {shown}")
        if self.faults.roll("throttle_rate"):
            return api_error("Throttling", "Rate exceeded")
        if self.faults.roll("internal_error_rate"):
            return api_error("InternalServer", "An internal error occurred; retry the request")
        return None

    # --- the three operations --------------------------------------------------------------------
    def start_report_task(self, request: dict[str, Any], caller: Merchant) -> dict[str, str]:
        return self.tasks.start(request, caller)

    def report_task(self, task_id: str, caller: Merchant) -> dict[str, str]:
        return self.tasks.status(task_id, caller.target_id)

    def report_download_link(self, task_id: str, host: str, caller: Merchant) -> dict[str, str]:
        return self.downloads.link(task_id, host, caller.target_id)

    # --- GET /downloads/... ------------------------------------------------------------------------
    def download(self, path: str, query: str, range_header: str | None, *, head: bool) -> Answer:
        if not head:
            self._count("download", self.tasks.owner(task_of(path)))
        return self.downloads.serve(path, query, range_header, head=head)

    # --- control -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        tasks = self.tasks.state(now)
        most = tasks["maxConcurrentInProgress"]
        with self._lock:
            calls = dict(self._calls)
            merchant_calls = {target: dict(counts) for target, counts in self._merchant_calls.items()}
        return {
            "now": iso_millis(now),
            "tasks": tasks["tasks"],
            "calls": calls,
            "maxConcurrentInProgress": max(most.values(), default=0),
            "merchants": [
                {
                    "targetId": merchant.target_id,
                    "clientId": merchant.client_id,
                    "calls": merchant_calls[merchant.target_id],
                    "maxConcurrentInProgress": most.get(merchant.target_id, 0),
                }
                for merchant in self.config.merchants
            ],
            "faults": self.faults.as_dict(),
        }

    def reset(self) -> None:
        """Forget tasks, counts and faults; the clock keeps its time (it never goes back)."""
        self.tasks.clear()
        with self._lock:
            self._calls = _no_calls()
            self._merchant_calls = {target: _no_calls() for target in self._merchant_calls}
        self.downloads.rearm()
        self.faults.reset()

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.faults.update(**changes)
        if "drop_download_after_bytes" in changes:
            self.downloads.rearm()
        return self.faults.as_dict()

    def _count(self, name: str, target_id: str | None) -> None:
        """Every call counts; it counts for a merchant too when made with its credentials."""
        with self._lock:
            self._calls[name] += 1
            if target_id is not None:
                self._merchant_calls[target_id][name] += 1


class _Root:
    """GraphQL resolvers for one call; a refused call fails every field it asks for."""

    def __init__(self, api: ReportingApi, caller: Merchant | None, refusal: GraphQLError | None, host: str) -> None:
        self._api, self._caller, self._refusal, self._host = api, caller, refusal, host

    def _allowed(self) -> Merchant:
        """The merchant the call acts for, or the refusal every field gets."""
        if self._refusal is not None:
            raise self._refusal
        assert self._caller is not None  # a call with no refusal has passed the token check
        return self._caller

    def startReportTask(self, info: Any, input: dict[str, Any]) -> dict[str, str]:
        return self._api.start_report_task(input, self._allowed())

    def reportTask(self, info: Any, taskId: str) -> dict[str, str]:
        return self._api.report_task(taskId, self._allowed())

    def reportDownloadLink(self, info: Any, taskId: str) -> dict[str, str]:
        return self._api.report_download_link(taskId, self._host, self._allowed())


def _no_calls() -> dict[str, int]:
    return dict.fromkeys(("token", *OPERATIONS, "download"), 0)


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

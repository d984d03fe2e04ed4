"""Lambda functions run in this process, invoked by moto's Step Functions engine.

moto would run a function's code in Docker; instead, its ``LambdaFunction.invoke`` is replaced,
for the functions created here only, by a call to the handler module: JSON in, JSON out, and on
an exception the ``x-amz-function-error`` header with ``{"errorType", "errorMessage"}``, as
Lambda does. So the ASL's Retry and Catch see the same error names they see in AWS.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, redirect_stdout
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TextIO
from unittest import mock

from moto.awslambda.models import LambdaFunction

from bwp_lake import shipped_path

LAMBDAS_DIR = shipped_path("functions", "lambdas")


@dataclass(frozen=True)
class Invocation:
    """One call of a function, as the progress display and tests see it."""

    function: str
    event: dict[str, Any]
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None


@dataclass
class LambdaContext:
    """The attributes Powertools reads from Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def load_handler(step: str) -> Callable[[dict, Any], Any]:
    """Import ``lambdas/<step>/handler.py`` as Lambda would, under a name of its own."""
    path = LAMBDAS_DIR / step / "handler.py"
    spec = importlib.util.spec_from_file_location(f"bwp_lambda_{step}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no handler at {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class InProcessLambdas:
    """Routes moto's invocations of the registered functions to their handlers."""

    def __init__(self, on_invocation: Callable[[Invocation], None] | None = None) -> None:
        self._handlers: dict[str, Callable[[dict, Any], Any]] = {}
        self._on_invocation = on_invocation or (lambda invocation: None)
        self._lock = threading.Lock()
        # Lambda runs one event at a time per execution environment; here every function shares
        # one process, and with it Powertools' logger context and metric set. One invocation
        # at a time keeps each invocation's log keys and metrics its own. Waits happen between
        # invocations, so windows still overlap as they do in AWS.
        self._one_at_a_time = threading.Lock()
        self.invocations: list[Invocation] = []
        # Where the handlers' prints go (None: this process's stdout).
        self.stdout: TextIO | None = None

    def register(self, function_name: str, handler: Callable[[dict, Any], Any]) -> None:
        self._handlers[function_name] = handler

    @contextmanager
    def routing(self) -> Iterator[None]:
        original = LambdaFunction.invoke
        runtime = self

        def invoke(function: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> bytes:
            if function.function_name not in runtime._handlers:
                return original(function, body, request_headers, response_headers)
            return runtime._invoke(function, body, response_headers)

        with mock.patch.object(LambdaFunction, "invoke", invoke):
            yield

    def _invoke(self, function: LambdaFunction, body: str, response_headers: Any) -> bytes:
        event = json.loads(body) if body else {}
        context = LambdaContext(function.function_name, invoked_function_arn=function.function_arn)
        try:
            with self._one_at_a_time, redirect_stdout(self.stdout) if self.stdout else nullcontext():
                result = self._handlers[function.function_name](event, context)
        except Exception as error:  # noqa: BLE001 - every error becomes the Lambda error payload
            invocation = Invocation(function.function_name, event, None, type(error).__name__, str(error))
            self._record(invocation)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": invocation.error_type,
                    "errorMessage": invocation.error_message,
                    "stackTrace": traceback.format_exception(error)[-3:],
                }
            ).encode()
        self._record(Invocation(function.function_name, event, result))
        return json.dumps(result).encode()

    def _record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)
        self._on_invocation(invocation)

"""What ``local-run`` and ``demo`` show while the workflow runs, from the functions' invocations
and the windows' ends: each store's plan, one counter of the windows of every store, every retry
of a step that blocks a store's whole run, and (with ``--verbose``) one line per step of each
window, naming its store.

A failed invocation that the state's ``Retry`` will try again is a retry, said as such with its
number and the longest wait before it (the ASL's own numbers); it is a failure only once the
retries are spent. A failure in *Plan windows* is an input refusal only when its error is one of
the validation errors; anything else is named as it is, with the retries it had.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bwp import errors

from bwp_lake.cli.progress import ProgressDisplay, WindowCounts, duration
from bwp_lake.cli.run_lines import FailedStep, Retries, is_input_refusal, outcome_verdict, plan_line, short
from bwp_lake.definition import FUNCTION_STEPS, Step, function_name

if TYPE_CHECKING:  # the engine imports moto, which takes seconds: not before the input is checked
    from bwp_lake.local.engine import ExecutionOutcome
    from bwp_lake.local.lambda_runtime import Invocation

SLOTS_BUSY = errors.TaskSlotsBusy.__name__


class RunProgress:
    """Told of every invocation (``invoked``) and every window's end (``window_ended``), from
    the engine's threads; ``begin`` once the engine runs, with the API's clock."""

    def __init__(self, display: ProgressDisplay, *, api: str, api_time: bool, verbose: bool = False) -> None:
        self._display = display
        self._api = api
        self._api_time = api_time
        self._verbose = verbose
        self._lock = threading.Lock()
        self._retries = Retries()
        self._state_of = {function_name(task.step): name for name, task in self._retries.tasks.items()}
        self._api_now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._started: datetime | None = None
        self._planned: dict[str, int] = {}  # execution -> its windows
        self._windows: dict[WindowKey, str] = {}  # running, waiting, retrying, landed, failed
        # Per (function, window or execution): when the first failure since its last success was.
        self._first_failure: dict[StepKey, datetime] = {}
        self._stores: dict[str, str] = {}  # execution -> the stores its input names
        self._failed_steps: dict[str, FailedStep] = {}  # execution -> its step that failed for good

    def begin(self, api_now: Callable[[], datetime]) -> None:
        self._api_now = api_now
        self._started = api_now()

    def elapsed(self) -> str:
        if self._started is None:
            return ""
        return self._time(max((self._api_now() - self._started).total_seconds(), 0.0))

    def invoked(self, invocation: Invocation) -> None:
        with self._lock:
            for line in self._lines_for(invocation):
                self._display.line(line)
            self._show_counts()

    def window_ended(self, window: dict[str, Any], failed: bool) -> None:
        with self._lock:
            where = _window_key(window)
            self._windows[where] = "failed" if failed else "landed"
            if failed and self._verbose:
                self._display.line(f"{_where(window)}  failed      (the summary says why)")
            self._show_counts()

    def outcome_line(self, outcome: ExecutionOutcome) -> str:
        step = self.failed_step_of(outcome)
        if step is not None and outcome.error == step.error:
            return f"Execution {outcome.status}: {step.text(self._api)}"
        return f"Execution {outcome_verdict(outcome.status, outcome.error, outcome.cause)}"

    def failed_step_of(self, outcome: ExecutionOutcome) -> FailedStep | None:
        """The step of the execution's whole run that failed for good, if one did."""
        with self._lock:
            return self._failed_steps.get(outcome.execution_arn)

    def store_of(self, outcome: ExecutionOutcome) -> str:
        """The stores the execution's input names (one, as ``local-run`` starts them)."""
        with self._lock:
            return self._stores.get(outcome.execution_arn, "every store")

    @property
    def failed_step(self) -> FailedStep | None:
        """The first step of a whole run that failed for good, of any execution."""
        with self._lock:
            return next(iter(self._failed_steps.values()), None)

    # --- under self._lock -------------------------------------------------------------------------
    def _lines_for(self, invocation: Invocation) -> list[str]:
        window = invocation.event.get("window") or None
        execution = str(invocation.event.get("executionId", ""))
        key: StepKey = (invocation.function, _window_key(window) if window else execution)
        if invocation.function == function_name(Step.PLAN_WINDOWS):
            self._stores[execution] = _stores_named(invocation.event.get("request"))
        if not invocation.error_type:
            self._retries.succeeded(key)
            self._first_failure.pop(key, None)
            if window and self._windows.get(_window_key(window)) not in ("landed", "failed"):
                self._windows[_window_key(window)] = "running"
            if invocation.function == function_name(Step.PLAN_WINDOWS):
                self._planned[execution] = invocation.result.get("windows", 0)
                return [f"{self._stores[execution]}: {plan_line(invocation.result)}"]
            line = describe(invocation) if self._verbose else None
            return [line] if line else []
        return self._failure_lines(invocation, key, window, execution)

    def _failure_lines(
        self, invocation: Invocation, key: StepKey, window: dict[str, Any] | None, execution: str
    ) -> list[str]:
        error, message = invocation.error_type or "", short(invocation.error_message)
        state = self._state_of.get(invocation.function, invocation.function)
        retry = self._retries.failed(key, state, error)
        first = self._first_failure.setdefault(key, self._api_now())
        if retry is not None:
            if window:
                self._windows[_window_key(window)] = "waiting" if error == SLOTS_BUSY else "retrying"
            if error == SLOTS_BUSY:
                return [f"{_where(window)}  waiting     for a report task slot: {message}"] if self._verbose else []
            retrying = retry.text("s of API time" if self._api_time else "s")
            if window is None:
                # A step of a store's whole run: nothing of it moves while it retries, so each retry is said.
                return [f"{self._stores.get(execution, 'every store')}: {state}: {error}: {message}; {retrying}"]
            return [f"{_where(window)}  retrying    {state}: {error}: {message}; {retrying}"] if self._verbose else []
        if window is None:
            if not is_input_refusal(error):
                retried_for = self._time((self._api_now() - first).total_seconds())
                self._failed_steps[execution] = FailedStep(
                    state, error, message, self._retries.retried(key), retried_for
                )
            return []
        self._windows[_window_key(window)] = "running"
        return [f"{_where(window)}  {state}: {error}: {message}"] if self._verbose else []

    def _show_counts(self) -> None:
        if not self._planned:
            return
        states = list(self._windows.values())
        landed, failed = states.count("landed"), states.count("failed")
        self._display.update(
            WindowCounts(
                total=sum(self._planned.values()),
                done=landed + failed,
                in_progress=states.count("running"),
                landed=landed,
                failed=failed,
                waiting_for_slot=states.count("waiting"),
                retrying=states.count("retrying"),
            )
        )

    def _time(self, seconds: float) -> str:
        return f"{duration(seconds)} of API time" if self._api_time else duration(seconds)


def describe(invocation: Invocation) -> str | None:
    """A step of a window that went well, as one line (``--verbose``)."""
    event, result = invocation.event, invocation.result
    where = _where(event.get("window") or {})
    match FUNCTION_STEPS.get(invocation.function):
        case Step.START_REPORT if result.get("adopted"):
            return f"{where}  adopted     {result['taskId']} ({result['status']}, started by an earlier run)"
        case Step.START_REPORT:
            return f"{where}  started     {result['taskId']} (attempt {event['attempt']})"
        case Step.CHECK_REPORT:
            waiting = f", next check in {result['waitSeconds']} s" if result["status"] != "COMPLETED" else ""
            return f"{where}  {result['status']:<11} poll {result['polls']}{waiting}"
        case Step.LAND_REPORT:
            drift = "  HEADER DRIFT" if result.get("drift") else ""
            return f"{where}  landed      {result['rows']:,} rows, {result['bytesOut']:,} bytes{drift}"
    return None


WindowKey = tuple[str, str, str]  # store, report type, day
StepKey = tuple[str, WindowKey | str]  # a function, and the window (or the execution) it ran for


def _window_key(window: dict[str, Any]) -> WindowKey:
    return str(window.get("store", "")), str(window.get("reportType", "")), str(window.get("day", ""))


def _where(window: dict[str, Any] | None) -> str:
    window = window or {}
    return f"{window.get('store', ''):<10} {window.get('reportType', ''):<12} {window.get('day', ''):<10}"


def _stores_named(request: object) -> str:
    """The stores an execution's input names, as a person reads them."""
    stores = request.get("stores") if isinstance(request, dict) else None
    if isinstance(stores, list) and stores:
        return ", ".join(str(store) for store in stores)
    return "every store"

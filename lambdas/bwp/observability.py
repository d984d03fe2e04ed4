"""The one Logger, Tracer and Metrics of every function; import them from here."""

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from bwp.lake.contract import NAMESPACE, REPORT_TYPE_DIMENSION, SERVICE, STORE_DIMENSION
from bwp.lake.partition import Series
from bwp.redaction import redact, redact_payload, redacted_error

# With the function's log level at DEBUG, the HTTP clients would log what must never reach a log:
# botocore the bodies it sends and receives (the credentials secret's value), urllib3 every URL it
# requests (a download link with its signature). Their INFO and above carry neither.
for wire_logger in ("botocore", "urllib3"):
    logging.getLogger(wire_logger).setLevel(logging.INFO)


def _redacted_log_line(record: dict[str, Any]) -> str:
    """Powertools' JSON line, redacted whole: message, keys, extras and exception alike."""
    return redact(json.dumps(record, default=str, separators=(",", ":"), ensure_ascii=False))


logger = Logger(service=SERVICE, json_serializer=_redacted_log_line)
# requests is left unpatched: X-Ray would record a failed download's exception, and with it the
# signed URL of the report.
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def add_series_dimensions(metric_set: Any, series: Series) -> None:
    """The dimensions of a per-series metric: the store and the report type."""
    metric_set.add_dimension(name=STORE_DIMENSION, value=series.store)
    metric_set.add_dimension(name=REPORT_TYPE_DIMENSION, value=series.report_type)


def emit_series_metric(name: str, series: Series, value: float, unit: MetricUnit) -> None:
    """One series' figure, flushed at once: a metric set has one set of dimensions, so a step
    that reports on several series gives each figure a metric of its own."""
    with single_metric(
        name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
    ) as metric:
        add_series_dimensions(metric, series)


def observed(handler: Callable[[dict, object], dict]) -> Callable[[dict, object], dict]:
    """Every handler's decorators, outermost first: the Lambda context on each log line, the
    invocation traced, the metrics flushed when it returns, and what it returns or raises redacted."""
    return logger.inject_lambda_context(tracer.capture_lambda_handler(metrics.log_metrics(_redacted(handler))))


def _redacted(handler: Callable[[dict, object], dict]) -> Callable[[dict, object], dict]:
    """The handler's result and error message leave the process here, for the execution's history
    (its cause, readable by anyone who may describe the execution), the trace and the Lambda log:
    whatever an upstream echoed into them, they leave redacted."""

    @functools.wraps(handler)
    def redacting(event: dict, context: object) -> dict:
        try:
            result = handler(event, context)
        except Exception as error:  # noqa: BLE001 - re-raised, as itself when it can be
            # Without its chain: an earlier exception's message would travel with the traceback.
            raise redacted_error(error) from None
        return redact_payload(result)

    return redacting

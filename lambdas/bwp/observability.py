"""The one Logger, Tracer and Metrics of every function; import them from here."""

import logging
from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics, Tracer

from bwp.contract import NAMESPACE, SERVICE

# With the function's log level at DEBUG, the HTTP clients would log what must never reach a log:
# botocore the bodies it sends and receives (the credentials secret's value), urllib3 every URL it
# requests (a download link with its signature). Their INFO and above carry neither.
for wire_logger in ("botocore", "urllib3"):
    logging.getLogger(wire_logger).setLevel(logging.INFO)

logger = Logger(service=SERVICE)
# requests is left unpatched: X-Ray would record a failed download's exception, and with it the
# signed URL of the report.
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def observed(handler: Callable[[dict, object], dict]) -> Callable[[dict, object], dict]:
    """Every handler's decorators, outermost first: the Lambda context on each log line, the
    invocation traced, the metrics flushed when it returns."""
    return logger.inject_lambda_context(tracer.capture_lambda_handler(metrics.log_metrics(handler)))

"""The one Logger, Tracer and Metrics of every function; import them from here."""

import logging

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

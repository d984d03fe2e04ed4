"""The one Logger, Tracer and Metrics of every function; import them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "bwp-report-lake"
NAMESPACE = "BwpReportLake"

logger = Logger(service=SERVICE)
# requests is left unpatched: X-Ray would record a failed download's exception, and with it the
# signed URL of the report.
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

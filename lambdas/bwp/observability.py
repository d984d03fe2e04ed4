"""The one Logger, Tracer and Metrics of every function; import them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "bwp-report-lake"
NAMESPACE = "BwpReportLake"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

"""What the functions and the stack around them must spell alike: the bucket's key prefixes, the
service and metric namespace, and the metric names the alarms and the dashboard read.

The stack reads this module as it reads the registry (``bwp.schemas``): a name changed here
changes on both sides, so an alarm cannot watch a metric that is no longer emitted.
"""

SERVICE = "bwp-report-lake"
NAMESPACE = "BwpReportLake"

# The lake's layers; the manifests are never under a table's location.
REPORTS_PREFIX = "reports/"
CURATED_PREFIX = "curated/"
MANIFESTS_PREFIX = "manifests/"

# Per report type (dimension ReportType), emitted by the land and summarize steps.
PARTITIONS_LANDED = "PartitionsLanded"  # 1 per partition: what the freshness alarm counts
ROWS_LANDED = "RowsLanded"
BYTES_LANDED = "BytesLanded"
REPORT_GENERATION_SECONDS = "ReportGenerationSeconds"
REPORT_POLLS = "ReportPolls"
PARTITIONS_MISSING = "PartitionsMissing"  # per run, zero included: what the gap alarm reads

"""What the functions and the stack around them must spell alike: the bucket's key prefixes, the
service and metric namespace, the metric names the alarms and the dashboard read, and the
limits the stack's configuration is checked against.

The stack reads this module as it reads the registry (``bwp.lake.schemas``): a name changed here
changes on both sides, so an alarm cannot watch a metric that is no longer emitted.
"""

SERVICE = "bwp-report-lake"
NAMESPACE = "BwpReportLake"

# The lake's layers; the manifests are never under a table's location.
REPORTS_PREFIX = "reports/"
CURATED_PREFIX = "curated/"
# The curated layer's Iceberg tables, one folder per table (bwp.iceberg.tables): their metadata.
ICEBERG_PREFIX = "iceberg/"
MANIFESTS_PREFIX = "manifests/"
# Beside the tables, read by none: a window's objects before they are published into the table
# locations, and the raw reports of days that could not be curated (kept, never deleted).
STAGING_PREFIX = "staging/"
QUARANTINE_PREFIX = "quarantine/"
# What one execution hands from state to state, kept in the bucket so that no state's payload
# grows with the number of windows; no table reads under _runs/.
RUNS_PREFIX = "_runs/"
PLANS_PREFIX = f"{RUNS_PREFIX}plans/"  # Plan windows' windows, one JSON array per execution: the Map's items
MAP_RESULTS_PREFIX = f"{RUNS_PREFIX}map-results/"  # the Distributed Map's ResultWriter files
SUMMARIES_PREFIX = f"{RUNS_PREFIX}summaries/"  # Summarize's full report: one line per window

# Limits the workflow enforces and the stack's configuration is validated against.
API_CONCURRENT_TASKS = 5  # the API allows five report tasks in progress per target id
MAX_RANGE_DAYS = 400  # one execution's startDate..endDate, and the schedule's look-back
MAX_BACKFILL_WINDOWS = 400
# A report type with no partition landed for this long is stale: the freshness alarm, and the
# freshness dbt checks (bwp-lake dbt-sources). 26 hours leaves a daily run two hours of slack.
FRESHNESS_HOURS = 26

# The dimensions of the per-series metrics below: every one is per store and report type.
STORE_DIMENSION = "Store"
REPORT_TYPE_DIMENSION = "ReportType"
# Per store and report type, emitted by the land and summarize steps.
PARTITIONS_LANDED = "PartitionsLanded"  # 1 per partition
ROWS_LANDED = "RowsLanded"
BYTES_LANDED = "BytesLanded"
REPORT_GENERATION_SECONDS = "ReportGenerationSeconds"
REPORT_POLLS = "ReportPolls"
# Per run, for a report type that has landed at least once: hours since its newest manifest was
# written, what the freshness alarm reads (a new deployment reports nothing until it first lands).
HOURS_SINCE_LAST_LANDING = "HoursSinceLastLanding"
PARTITIONS_MISSING = "PartitionsMissing"  # per run, zero included: what the gap alarm reads

"""Each function's access, action by action, on the resources and key prefixes it touches.

The one place the grants are declared: ``infra/workflow.py`` makes each role's statements from
it, and ``tests/infra/test_least_privilege.py`` holds it against the calls the functions' code
makes, both ways (a grant nobody calls, a call nobody granted). ``grant_read`` and
``grant_read_write_data`` give families of actions (``s3:GetObject*``, ``dynamodb:BatchWriteItem``,
``secretsmanager:DescribeSecret``...) that no function calls.

No KMS grants: the bucket is SSE-S3, the table and the secret use AWS managed keys, whose use
needs no key policy grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from bwp.lake.contract import (
    ICEBERG_PREFIX,
    MANIFESTS_PREFIX,
    MAP_RESULTS_PREFIX,
    PLANS_PREFIX,
    QUARANTINE_PREFIX,
    REPORTS_PREFIX,
    STAGING_PREFIX,
    SUMMARIES_PREFIX,
)

# What an access is on.
SECRET = "secret"  # the API credentials: every configured store's secret, each by its ARN
STATE_TABLE = "state table"  # the task ledger and slots
CATALOG = "catalog"  # the Glue Data Catalog's database of the lake, and its tables
BUCKET = "bucket"  # the lake bucket itself (listing), limited to keys under the prefix
OBJECTS = "objects"  # the lake's objects under the prefix


@dataclass(frozen=True)
class Access:
    actions: tuple[str, ...]
    on: str
    prefix: str | None = None  # for BUCKET and OBJECTS

    def __post_init__(self) -> None:
        if (self.prefix is None) != (self.on in (SECRET, STATE_TABLE, CATALOG)):
            raise ValueError(f"{self.on} access takes {'a' if self.prefix is None else 'no'} key prefix")


_API_CREDENTIALS = Access(("secretsmanager:GetSecretValue",), SECRET)
_LIST_MANIFESTS = Access(("s3:ListBucket",), BUCKET, MANIFESTS_PREFIX)
# A multipart upload that fails is aborted, so that no part outlives it.
_STREAM_INTO = ("s3:PutObject", "s3:AbortMultipartUpload")

FUNCTION_ACCESS: dict[str, tuple[Access, ...]] = {
    "plan_windows": (
        _API_CREDENTIALS,  # checks each store's credentials once
        # the windows of a store whose credentials are refused, failed in the ledger
        Access(("dynamodb:UpdateItem",), STATE_TABLE),
        _LIST_MANIFESTS,  # which days have landed: backfill
        Access(("s3:GetObject",), OBJECTS, MANIFESTS_PREFIX),  # recent generation times
        # the plan the Map reads, and the refused stores' windows Summarize reads
        Access(("s3:PutObject",), OBJECTS, PLANS_PREFIX),
    ),
    "start_report": (
        _API_CREDENTIALS,
        Access(
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"),
            STATE_TABLE,
        ),
    ),
    "check_report": (
        _API_CREDENTIALS,
        Access(("dynamodb:UpdateItem", "dynamodb:DeleteItem"), STATE_TABLE),  # status; a slot renewed or freed
    ),
    "land_report": (
        _API_CREDENTIALS,
        Access(("dynamodb:UpdateItem",), STATE_TABLE),  # where a report that cannot be curated is kept
        # The raw report is streamed under staging/ and read back to make the typed data file,
        # which is streamed to its own key in the curated table's location (deleted again if the
        # landing fails); the manifest is staged too. The raw report goes into quarantine/ when
        # it cannot be curated. Nothing is published: the commit does that.
        Access((*_STREAM_INTO, "s3:GetObject", "s3:DeleteObject"), OBJECTS, STAGING_PREFIX),
        Access((*_STREAM_INTO, "s3:DeleteObject"), OBJECTS, ICEBERG_PREFIX),
        Access(_STREAM_INTO, OBJECTS, QUARANTINE_PREFIX),
    ),
    "commit_curated": (
        Access(("dynamodb:UpdateItem",), STATE_TABLE),  # LANDED in the ledger
        Access(("s3:GetObject",), OBJECTS, MAP_RESULTS_PREFIX),  # the landed windows
        # The tables: their metadata written, the data files' footers read, the files of expired
        # snapshots deleted (pyiceberg reads and writes through the function's own S3 client).
        Access(("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), OBJECTS, ICEBERG_PREFIX),
        # Each committed day's staged report and manifest are copied inside S3 into the table
        # location and manifests/, then deleted from staging/.
        Access(("s3:GetObject", "s3:DeleteObject"), OBJECTS, STAGING_PREFIX),
        Access(("s3:PutObject", "s3:AbortMultipartUpload"), OBJECTS, REPORTS_PREFIX),
        Access(("s3:PutObject", "s3:AbortMultipartUpload"), OBJECTS, MANIFESTS_PREFIX),
        # pyiceberg's Glue catalog: the database's kind, a table's pointer read, created on the
        # first commit, swapped (with a version check) on each commit.
        Access(("glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"), CATALOG),
    ),
    "summarize": (
        Access(("dynamodb:UpdateItem",), STATE_TABLE),  # each failure, for `bwp-lake gaps`
        _LIST_MANIFESTS,  # the days still missing
        Access(("s3:GetObject",), OBJECTS, PLANS_PREFIX),
        Access(("s3:GetObject",), OBJECTS, MAP_RESULTS_PREFIX),
        Access(("s3:PutObject",), OBJECTS, SUMMARIES_PREFIX),  # the full report
        # Whether a landed window is still staged (its commit failed)
        Access(("s3:GetObject",), OBJECTS, STAGING_PREFIX),
        # Reports of days that did not land (a commit killed between publishing and the
        # manifest) are taken out of the table: the version read is copied into quarantine/ and
        # then deleted.
        Access(("s3:ListBucket",), BUCKET, REPORTS_PREFIX),
        Access(("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion"), OBJECTS, REPORTS_PREFIX),
        Access(_STREAM_INTO, OBJECTS, QUARANTINE_PREFIX),
    ),
}

# The state machine's own access to the lake: the Distributed Map's ItemReader reads the plan,
# its ResultWriter writes the result files (and, for large ones, as a multipart upload).
STATE_MACHINE_ACCESS: tuple[Access, ...] = (
    Access(("s3:GetObject",), OBJECTS, PLANS_PREFIX),
    Access(
        ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"),
        OBJECTS,
        MAP_RESULTS_PREFIX,
    ),
)

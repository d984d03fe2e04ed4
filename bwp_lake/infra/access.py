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
    CURATED_PREFIX,
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
BUCKET = "bucket"  # the lake bucket itself (listing), limited to keys under the prefix
OBJECTS = "objects"  # the lake's objects under the prefix


@dataclass(frozen=True)
class Access:
    actions: tuple[str, ...]
    on: str
    prefix: str | None = None  # for BUCKET and OBJECTS

    def __post_init__(self) -> None:
        if (self.prefix is None) != (self.on in (SECRET, STATE_TABLE)):
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
        Access(("dynamodb:UpdateItem",), STATE_TABLE),  # LANDED in the ledger
        # The raw and curated objects are streamed under staging/, the raw one read back to make
        # the curated one; both are copied inside S3 into the table locations (or the raw one into
        # quarantine/ when it cannot be curated), then deleted from staging/.
        Access((*_STREAM_INTO, "s3:GetObject", "s3:DeleteObject"), OBJECTS, STAGING_PREFIX),
        Access(_STREAM_INTO, OBJECTS, REPORTS_PREFIX),
        Access(_STREAM_INTO, OBJECTS, CURATED_PREFIX),
        Access(_STREAM_INTO, OBJECTS, QUARANTINE_PREFIX),
        Access(("s3:PutObject",), OBJECTS, MANIFESTS_PREFIX),
    ),
    "summarize": (
        Access(("dynamodb:UpdateItem",), STATE_TABLE),  # each failure, for `bwp-lake gaps`
        _LIST_MANIFESTS,  # the days still missing
        Access(("s3:GetObject",), OBJECTS, PLANS_PREFIX),
        Access(("s3:GetObject",), OBJECTS, MAP_RESULTS_PREFIX),
        Access(("s3:PutObject",), OBJECTS, SUMMARIES_PREFIX),  # the full report
        # Objects of days that did not land (a landing killed between publishing and its
        # manifest) are taken out of the tables: the version read is copied into quarantine/
        # (a raw report) and then deleted.
        Access(("s3:ListBucket",), BUCKET, REPORTS_PREFIX),
        Access(("s3:ListBucket",), BUCKET, CURATED_PREFIX),
        Access(("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion"), OBJECTS, REPORTS_PREFIX),
        Access(("s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion"), OBJECTS, CURATED_PREFIX),
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

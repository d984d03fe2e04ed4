"""The lake bucket, the Glue catalog and the Athena workgroup, as synthesized."""

from __future__ import annotations

from datetime import date

import pytest
from aws_cdk.assertions import Match, Template
from bwp.lake.contract import ICEBERG_PREFIX, QUARANTINE_PREFIX, STAGING_PREFIX
from bwp.lake.manifest import Manifest
from bwp.lake.partition import Partition
from bwp.lake.schemas import PROVISIONAL_NOTE, REPORT_TYPES, schema_for

from bwp_lake import athena
from bwp_lake.infra.outputs import VIEW_QUERY_PREFIX

pytestmark = pytest.mark.xdist_group("infra-synth")


@pytest.fixture(scope="module")
def template(synthesized) -> Template:
    return Template.from_json(synthesized.template)


def data_bucket_id(synthesized) -> str:
    """The bucket that logs to another bucket is the lake; the other one holds its logs."""
    (logical_id,) = [
        logical_id
        for logical_id, resource in synthesized.resources("AWS::S3::Bucket").items()
        if "LoggingConfiguration" in resource["Properties"]
    ]
    return logical_id


def data_bucket(synthesized) -> dict:
    return synthesized.template["Resources"][data_bucket_id(synthesized)]


def bucket_policy(synthesized, bucket_logical_id: str) -> dict:
    (policy,) = [
        resource["Properties"]["PolicyDocument"]
        for resource in synthesized.resources("AWS::S3::BucketPolicy").values()
        if resource["Properties"]["Bucket"] == {"Ref": bucket_logical_id}
    ]
    return policy


def test_both_buckets_are_private_encrypted_versioned_and_kept_on_delete(synthesized):
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain", logical_id
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}


def test_both_buckets_refuse_requests_without_tls(synthesized):
    for logical_id in synthesized.resources("AWS::S3::Bucket"):
        statements = bucket_policy(synthesized, logical_id)["Statement"]
        denials = [s for s in statements if s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"}]
        conditions = [s["Condition"] for s in denials]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions, logical_id


def test_data_bucket_logs_access_to_the_log_bucket(synthesized):
    logging = data_bucket(synthesized)["Properties"]["LoggingConfiguration"]
    (log_bucket_id,) = [
        logical_id
        for logical_id, bucket in synthesized.resources("AWS::S3::Bucket").items()
        if "LoggingConfiguration" not in bucket["Properties"]
    ]
    assert logging["DestinationBucketName"] == {"Ref": log_bucket_id}


def test_data_bucket_aborts_stale_uploads_and_expires_old_versions_and_athena_results(synthesized):
    rules = data_bucket(synthesized)["Properties"]["LifecycleConfiguration"]["Rules"]
    whole_bucket = [rule for rule in rules if "Prefix" not in rule]
    assert any(rule.get("AbortIncompleteMultipartUpload") == {"DaysAfterInitiation": 1} for rule in whole_bucket)
    assert any("NoncurrentVersionExpiration" in rule for rule in whole_bucket)
    results = [rule for rule in rules if rule.get("Prefix") == "athena-results/"]
    assert results and results[0]["ExpirationInDays"] > 0
    staged = [rule for rule in rules if rule.get("Prefix") == "staging/"]
    assert staged and staged[0]["ExpirationInDays"] > 0
    runs = [rule for rule in rules if rule.get("Prefix") == "_runs/"]
    assert runs and runs[0]["ExpirationInDays"] >= 7  # never before an execution (a week at most) ends
    # and nothing expires the quarantined reports: the bytes the API served are kept
    expiring = [rule.get("Prefix", "") for rule in rules if "ExpirationInDays" in rule]
    assert not [prefix for prefix in expiring if QUARANTINE_PREFIX.startswith(prefix)]


def day_table(name: str, columns: list[tuple[str, str]], prefix: str, storage: dict, parameters: dict) -> dict:
    """The properties a Glue table partitioned on ``store`` and ``dt`` must have, ``storage`` and
    ``parameters`` among others."""
    return {
        "DatabaseName": "bwp_report_lake",
        "TableInput": Match.object_like(
            {
                "Name": name,
                "PartitionKeys": [
                    Match.object_like({"Name": "store", "Type": "string"}),
                    Match.object_like({"Name": "dt", "Type": "string"}),
                ],
                "StorageDescriptor": Match.object_like(
                    {
                        "Columns": [
                            Match.object_like({"Name": column, "Type": column_type}) for column, column_type in columns
                        ],
                        "Location": _s3_url(prefix),
                        **storage,
                    }
                ),
                "Parameters": Match.object_like(parameters),
            }
        ),
    }


@pytest.mark.parametrize("report_type", REPORT_TYPES)
def test_each_report_type_has_a_raw_table_over_its_prefix_with_registry_columns(template, report_type):
    expected = day_table(
        schema_for(report_type).raw_table_name,
        athena.raw_table_columns(report_type),
        "reports/",
        {"SerdeInfo": Match.object_like({"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde"})},
        {"skip.header.line.count": "1", "compressionType": "gzip"},
    )
    template.has_resource_properties("AWS::Glue::Table", expected)


def test_the_template_defines_no_curated_table_the_committer_creates_and_evolves_them(synthesized):
    # given the Glue tables of the template
    names = {
        resource["Properties"]["TableInput"]["Name"] for resource in synthesized.resources("AWS::Glue::Table").values()
    }
    # then the curated Iceberg tables are not among them: a redeploy never resets their columns
    assert names == {schema_for(t).raw_table_name for t in REPORT_TYPES} | {"manifests"}


def test_every_glue_column_and_partition_key_has_a_comment_glue_accepts(synthesized):
    tables = [resource["Properties"]["TableInput"] for resource in synthesized.resources("AWS::Glue::Table").values()]
    columns = [column for table in tables for column in table["StorageDescriptor"]["Columns"] + table["PartitionKeys"]]
    uncommented = [column["Name"] for column in columns if not column.get("Comment", "").strip()]
    assert len(tables) == len(REPORT_TYPES) + 1 and uncommented == []
    # Glue's limit on a column comment
    assert max(len(column["Comment"]) for column in columns) <= 255


@pytest.mark.parametrize("report_type", REPORT_TYPES)
def test_report_table_comments_are_the_registry_descriptions(synthesized, report_type):
    schema = schema_for(report_type)
    columns = _table(synthesized, schema.raw_table_name)["StorageDescriptor"]["Columns"]
    assert [column["Comment"] for column in columns] == [schema.column_description(c) for c in schema.columns]
    provisional = [column["Comment"].endswith(PROVISIONAL_NOTE) for column in columns]
    assert provisional == [schema.provisional] * len(columns)


def test_manifests_table_comments_are_the_manifest_models_descriptions(synthesized):
    table = _table(synthesized, "manifests")
    described = {column["Name"]: column["Comment"] for column in table["StorageDescriptor"]["Columns"]}
    # the store is a partition key, read from its folder: a key cannot also be a column
    (store, report_type) = table["PartitionKeys"]
    assert (store["Name"], report_type["Name"]) == ("store", "report_type")
    described["store"] = store["Comment"].removesuffix(" (the folder store=<id>/)")
    assert described == {
        (field.alias or name).lower(): field.description for name, field in Manifest.model_fields.items()
    }


@pytest.mark.parametrize(
    ("report_type", "layer", "key_for"),
    [(t, "raw_table_name", lambda p: p.raw_key) for t in REPORT_TYPES],
)
def test_partition_projection_finds_each_landed_day_of_each_store_without_a_crawler(
    synthesized, report_type, layer, key_for
):
    table = _table(synthesized, getattr(schema_for(report_type), layer))
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    # the stores are the configured ones (without stores: the one store "default")
    assert (parameters["projection.store.type"], parameters["projection.store.values"]) == ("enum", "default")
    assert parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert parameters["projection.dt.range"] == f"{synthesized.context['projectionStartDate']},NOW"
    assert parameters["projection.dt.interval.unit"] == "DAYS"
    # The template, filled with a store and a day, is the folder of the object the landing step writes.
    template = _join(synthesized, parameters["storage.location.template"])
    landed_key = key_for(Partition("default", report_type, date(2024, 8, 22)))
    filled = template.replace("${store}", "default").replace("${dt}", "2024-08-22")
    assert filled == f"s3://<bucket>/{landed_key.rsplit('/', 1)[0]}/"


def test_manifests_have_their_own_table_outside_every_report_location(synthesized):
    table = _table(synthesized, "manifests")
    location = _join(synthesized, table["StorageDescriptor"]["Location"])
    assert location == "s3://<bucket>/manifests/"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    parameters = table["Parameters"]
    assert parameters["projection.report_type.values"] == ",".join(REPORT_TYPES)
    assert parameters["projection.store.values"] == "default"
    # the template, filled, is the folder of a manifest the landing step writes
    manifest_key = Partition("default", "ORDER_FEES", date(2024, 8, 22)).manifest_key
    filled = _join(synthesized, parameters["storage.location.template"])
    assert filled.replace("${store}", "default").replace("${report_type}", "ORDER_FEES") == (
        f"s3://<bucket>/{manifest_key.rsplit('/', 1)[0]}/"
    )
    report_locations = [
        _join(synthesized, _table(synthesized, schema_for(report_type).raw_table_name)["StorageDescriptor"]["Location"])
        for report_type in REPORT_TYPES
    ] + [f"s3://<bucket>/{ICEBERG_PREFIX}"]  # the curated Iceberg tables' locations
    assert not any(location.startswith(report) or report.startswith(location) for report in report_locations)
    # and neither are the objects a day keeps beside the tables: staged before it lands, or quarantined
    for aside in (STAGING_PREFIX, QUARANTINE_PREFIX):
        assert not any(f"s3://<bucket>/{aside}".startswith(table) for table in [location, *report_locations])


def test_workgroup_enforces_encrypted_results_location_and_a_scan_cutoff(template, synthesized):
    gigabytes = synthesized.context["athenaScanLimitGb"]
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "BytesScannedCutoffPerQuery": gigabytes * 1024**3,
                    "ResultConfiguration": {
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                        "OutputLocation": Match.any_value(),
                    },
                }
            )
        },
    )
    (workgroup,) = synthesized.resources("AWS::Athena::WorkGroup").values()
    output = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    assert _join(synthesized, output) == "s3://<bucket>/athena-results/"


def test_every_view_ddl_and_named_query_from_athena_is_a_named_query_in_the_workgroup(synthesized):
    named = {
        query["Properties"]["Name"]: query["Properties"]
        for query in synthesized.resources("AWS::Athena::NamedQuery").values()
    }
    (workgroup_id,) = synthesized.resources("AWS::Athena::WorkGroup")
    expected = {f"{VIEW_QUERY_PREFIX}{name}": sql for name, sql in athena.view_statements("bwp_report_lake")}
    expected.update({query.name: query.sql for query in athena.named_queries()})
    assert {name: properties["QueryString"] for name, properties in named.items()} == expected
    for properties in named.values():
        assert properties["WorkGroup"] == {"Ref": workgroup_id}
        assert properties["Database"] == "bwp_report_lake"


def _table(synthesized, name: str) -> dict:
    (table,) = [
        resource["Properties"]["TableInput"]
        for resource in synthesized.resources("AWS::Glue::Table").values()
        if resource["Properties"]["TableInput"]["Name"] == name
    ]
    return table


def _join(synthesized, value: dict) -> str:
    """A Fn::Join of literals and the data bucket's name, written as <bucket>."""
    separator, parts = value["Fn::Join"]
    bucket = {"Ref": data_bucket_id(synthesized)}
    assert all(isinstance(part, str) or part == bucket for part in parts), parts
    return separator.join(part if isinstance(part, str) else "<bucket>" for part in parts)


def _s3_url(prefix: str) -> dict:
    return {"Fn::Join": ["", ["s3://", Match.any_value(), f"/{prefix}"]]}

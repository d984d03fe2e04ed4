"""Storage and catalog: the lake bucket, its log bucket, the Glue database with its raw gzip CSV
tables (one per report type) and the manifests table, with partition projection, and the Athena
workgroup with the views' DDL and the named queries from ``athena/``.

The curated tables are not here: they are Iceberg tables that the committer creates in the same
database on its first commit and evolves as reports drift (``bwp.iceberg``). A table defined in
this template would drift from it with every column a writer adds, and a redeploy would put the
template's columns back, dropping the added ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena_cfn
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from bwp.lake.contract import MANIFESTS_PREFIX, REPORTS_PREFIX, RUNS_PREFIX, STAGING_PREFIX
from bwp.lake.partition import Series, location_template
from bwp.lake.schemas import REPORT_TYPES
from constructs import Construct

from bwp_lake import athena
from bwp_lake.athena import catalog
from bwp_lake.infra.config import LakeConfig
from bwp_lake.infra.naming import pascal
from bwp_lake.infra.outputs import VIEW_QUERY_PREFIX

ATHENA_RESULTS_PREFIX = "athena-results/"

ATHENA_RESULTS_EXPIRY = Duration.days(30)
NONCURRENT_VERSIONS_EXPIRY = Duration.days(30)
# A landing takes 15 minutes at most: a staged object a week old belongs to no landing any more.
STAGED_OBJECTS_EXPIRY = Duration.days(7)
# An execution's plan, map results and summary: an execution runs a week at most, and a month
# leaves time to read a summary after the fact.
RUN_OBJECTS_EXPIRY = Duration.days(30)
ACCESS_LOGS_EXPIRY = Duration.days(365)

# Both buckets: private, TLS only, encrypted (SSE-S3, the only encryption server access logs
# can be delivered to), versioned, and kept by `make destroy`: the lake outlives the stack.
_PRIVATE_BUCKET: dict[str, Any] = {
    "encryption": s3.BucketEncryption.S3_MANAGED,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "enforce_ssl": True,
    "minimum_tls_version": 1.2,
    "versioned": True,
    "removal_policy": RemovalPolicy.RETAIN,
}


@dataclass(frozen=True)
class _FileFormat:
    """How Glue (and Athena) read a table's files."""

    input_format: str
    output_format: str
    serde: str
    serde_parameters: dict[str, str] | None = None


_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_CSV_FILES = _FileFormat(
    _TEXT_INPUT,
    _TEXT_OUTPUT,
    "org.apache.hadoop.hive.serde2.OpenCSVSerde",
    {"separatorChar": ",", "quoteChar": '"', "escapeChar": "\\"},
)
_JSON_FILES = _FileFormat(_TEXT_INPUT, _TEXT_OUTPUT, "org.openx.data.jsonserde.JsonSerDe")


def _glue_column(column: catalog.CatalogColumn) -> glue.CfnTable.ColumnProperty:
    return glue.CfnTable.ColumnProperty(name=column.name, type=column.type, comment=column.comment)


class LakeStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: LakeConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.log_bucket = self._add_log_bucket()
        self.bucket = self._add_data_bucket()
        self.database = self._add_database()
        self.tables = {report_type: self._add_report_table(report_type) for report_type in REPORT_TYPES}
        self.manifests_table = self._add_manifests_table()
        self.workgroup = self._add_workgroup()
        self.named_queries = self._add_named_queries()

    @property
    def database_name(self) -> str:
        return self._config.database_name

    @property
    def workgroup_name(self) -> str:
        return self.workgroup.ref

    def _add_log_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "AccessLogs",
            **_PRIVATE_BUCKET,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=ACCESS_LOGS_EXPIRY,
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

    def _add_data_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Data",
            **_PRIVATE_BUCKET,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="data/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AbortUploadsExpireOldVersions",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                    noncurrent_version_expiration=NONCURRENT_VERSIONS_EXPIRY,
                    expired_object_delete_marker=True,
                ),
                # A landing killed between staging and publishing leaves its staged objects
                # behind; the day itself is landed again from the API (quarantine/ never expires).
                s3.LifecycleRule(id="ExpireStagedObjects", prefix=STAGING_PREFIX, expiration=STAGED_OBJECTS_EXPIRY),
                s3.LifecycleRule(id="ExpireRunObjects", prefix=RUNS_PREFIX, expiration=RUN_OBJECTS_EXPIRY),
                s3.LifecycleRule(
                    id="ExpireAthenaResults",
                    prefix=ATHENA_RESULTS_PREFIX,
                    expiration=ATHENA_RESULTS_EXPIRY,
                ),
            ],
        )

    def _add_database(self) -> glue.CfnDatabase:
        return glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self._account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self._config.database_name,
                description="Buy with Prime analytics reports, one partition per store, report type and UTC day",
            ),
        )

    def _add_report_table(self, report_type: str) -> glue.CfnTable:
        return self._add_table(
            f"{pascal(report_type)}Table",
            catalog.raw_table(report_type),
            location_prefix=REPORTS_PREFIX,
            template=location_template(REPORTS_PREFIX, report_type),
            parameters={"classification": "csv", "compressionType": "gzip", "skip.header.line.count": "1"},
            storage=_CSV_FILES,
            projections={
                catalog.STORE_COLUMN: self._store_projection(),
                catalog.PARTITION_COLUMN: self._day_projection(),
            },
        )

    def _add_manifests_table(self) -> glue.CfnTable:
        # The series' folder, its store and report type left to the projection.
        projected = Series(f"${{{catalog.STORE_COLUMN}}}", f"${{{catalog.REPORT_TYPE_COLUMN}}}")
        return self._add_table(
            "ManifestsTable",
            catalog.manifests_table(),
            location_prefix=MANIFESTS_PREFIX,
            template=projected.prefix(MANIFESTS_PREFIX),
            parameters={"classification": "json"},
            storage=_JSON_FILES,
            projections={
                catalog.STORE_COLUMN: self._store_projection(),
                catalog.REPORT_TYPE_COLUMN: {"type": "enum", "values": ",".join(REPORT_TYPES)},
            },
        )

    def _store_projection(self) -> dict[str, str]:
        """The configured stores: a store removed from the configuration leaves the tables with
        its data, which stays in the bucket until deleted."""
        return {"type": "enum", "values": ",".join(store.id for store in self._config.stores)}

    def _day_projection(self) -> dict[str, str]:
        return {
            "type": "date",
            "format": "yyyy-MM-dd",
            "range": f"{self._config.projection_start_date},NOW",
            "interval": "1",
            "interval.unit": "DAYS",
        }

    def _add_table(
        self,
        construct_id: str,
        table: catalog.CatalogTable,
        *,
        location_prefix: str,
        template: str,
        parameters: dict[str, str],
        storage: _FileFormat,
        projections: dict[str, dict[str, str]],
    ) -> glue.CfnTable:
        """``table`` over the files under ``location_prefix``, partitioned on the folders of
        ``template`` (a key relative to the bucket, ``${<partition>}`` in place of each partition's
        value) by partition projection: a new partition is queryable as soon as its object lands,
        with no crawler, MSCK REPAIR or ALTER TABLE ADD PARTITION."""
        projected = {
            "projection.enabled": "true",
            **{
                f"projection.{partition.name}.{setting}": value
                for partition in table.partitions
                for setting, value in projections[partition.name].items()
            },
            "storage.location.template": self._s3_url(template),
        }
        resource = glue.CfnTable(
            self,
            construct_id,
            catalog_id=self._account,
            database_name=self._config.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=table.name,
                description=table.description,
                table_type="EXTERNAL_TABLE",
                parameters={**parameters, **projected},
                partition_keys=[_glue_column(partition) for partition in table.partitions],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=self._s3_url(location_prefix),
                    input_format=storage.input_format,
                    output_format=storage.output_format,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=storage.serde, parameters=storage.serde_parameters
                    ),
                    columns=[_glue_column(column) for column in table.columns],
                ),
            ),
        )
        resource.node.add_dependency(self.database)
        return resource

    def _add_workgroup(self) -> athena_cfn.CfnWorkGroup:
        return athena_cfn.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self._config.stack_name,
            description="Queries over the Buy with Prime report lake",
            state="ENABLED",
            # Lets `make destroy` remove the workgroup even after queries have run in it.
            recursive_delete_option=True,
            work_group_configuration=athena_cfn.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=self._config.athena_scan_limit_gb * 1024**3,
                engine_version=athena_cfn.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena_cfn.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self._s3_url(ATHENA_RESULTS_PREFIX),
                    encryption_configuration=athena_cfn.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

    def _add_named_queries(self) -> list[athena_cfn.CfnNamedQuery]:
        """The views' DDL (run by `bwp-lake create-views`) and the ready-made queries."""
        views = [
            (f"{VIEW_QUERY_PREFIX}{name}", f"Creates or replaces the typed view {name}", sql)
            for name, sql in athena.view_statements(self._config.database_name)
        ]
        queries = [(query.name, query.description, query.sql) for query in athena.named_queries()]
        named = []
        for name, description, sql in views + queries:
            query = athena_cfn.CfnNamedQuery(
                self,
                f"Query{pascal(name)}",
                name=name,
                description=description,
                database=self._config.database_name,
                work_group=self.workgroup.ref,
                query_string=sql,
            )
            query.node.add_dependency(self.database)
            named.append(query)
        return named

    def _s3_url(self, prefix: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{prefix}"

    @property
    def _account(self) -> str:
        return Stack.of(self).account

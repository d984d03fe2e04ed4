"""``bwp-lake dbt-sources``: a dbt ``sources.yml`` for the lake's Glue tables, from the catalog the stack
deploys (``athena.catalog``): every raw and curated table and the manifests, each column with its
description and type, so that a dbt project on Athena (dbt-athena) can select from the lake.

dbt-athena reads a source's ``database`` as the data catalog and its ``schema`` as the Glue database.
The manifests say when each partition landed: their table carries dbt's freshness check, with the
freshness alarm's threshold.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from bwp.lake.contract import FRESHNESS_HOURS

from bwp_lake.athena.catalog import CatalogTable, catalog_tables, manifests_table
from bwp_lake.infra.config import DEFAULTS

SOURCE_NAME = "bwp_report_lake"
DEFAULT_CATALOG = "awsdatacatalog"  # Athena's name for the account's Glue Data Catalog
# landedAt is ISO 8601 text in the manifest; Athena (Trino) parses it so.
LOADED_AT = "from_iso8601_timestamp(landedat)"
DAILY_RUN_HOURS = 24
_GLUE_NAME = re.compile(r"[a-z0-9_]{1,255}")  # as cdk.json's databaseName is checked


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dbt-sources",
        help="write a dbt sources.yml describing the lake's tables and columns",
        description="Write a dbt sources.yml (version 2) for the lake's Glue tables: raw, curated and "
        "manifests, every column with its description and type, and a freshness check on the manifests.",
    )
    parser.add_argument(
        "--database",
        default=DEFAULTS["databaseName"],
        help=f"the Glue database, cdk.json's databaseName (default: {DEFAULTS['databaseName']})",
    )
    parser.add_argument(
        "--catalog", default=DEFAULT_CATALOG, help=f"the Athena data catalog (default: {DEFAULT_CATALOG})"
    )
    parser.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not _GLUE_NAME.fullmatch(args.database):
        print(
            f"error: --database {args.database!r} is not a Glue database name: use lower case letters, digits "
            "and underscores",
            file=sys.stderr,
        )
        return 2
    text = sources_yaml(args.database, args.catalog)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"error: cannot write --out {args.out}: {error.strerror or error}", file=sys.stderr)
        return 1
    tables = catalog_tables()
    columns = sum(len(table.columns) + len(table.partitions) for table in tables)
    print(f"wrote {args.out}: {len(tables)} tables, {columns} columns")
    return 0


def sources_yaml(database: str, catalog: str = DEFAULT_CATALOG) -> str:
    document = {"version": 2, "sources": [source(database, catalog)]}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def source(database: str, catalog: str) -> dict[str, Any]:
    return {
        "name": SOURCE_NAME,
        "description": "Buy with Prime analytics reports, one partition per store, report type and UTC day "
        "(store, dt); filter on store and dt so that partition projection can prune.",
        "database": catalog,
        "schema": database,
        "loader": "bwp-report-lake",
        "tables": [_table(table) for table in catalog_tables()],
    }


def _table(table: CatalogTable) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": table.name, "description": table.description}
    config: dict[str, Any] = {}
    if table.provisional:
        config["meta"] = {"provisional_schema": True}
    if table.name == manifests_table().name:
        config["loaded_at_field"] = LOADED_AT
        config["freshness"] = {
            "warn_after": {"count": FRESHNESS_HOURS, "period": "hour"},
            "error_after": {"count": FRESHNESS_HOURS + DAILY_RUN_HOURS, "period": "hour"},
        }
    if config:
        entry["config"] = config
    entry["columns"] = [
        {"name": column.name, "description": column.comment, "data_type": column.type}
        for column in (*table.columns, *table.partitions)
    ]
    return entry

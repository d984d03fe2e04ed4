"""`bwp-lake forget-store` against a deployed stack in moto: its outputs name the bucket, the Glue
database of the curated Iceberg tables and the stores it serves."""

from __future__ import annotations

import json
from collections import Counter

import boto3
import pytest
from bwp.iceberg.catalog import glue_catalog
from bwp.iceberg.reading import read_table
from bwp.lake.partition import STORE_LAYERS, store_prefix
from moto import mock_aws

from bwp_lake.cli.main import main
from bwp_lake.infra.outputs import DATA_BUCKET, DATABASE, STORE_IDS
from tests.infra.deployed_lake import REGION, STACK, aws_credentials  # noqa: F401 (autouse fixture)
from tests.unit.test_iceberg import DAY, REPORT, commit, land, tasks_by_day

GONE, KEPT = "store-1", "store-2"
DATABASE_NAME = "bwp"
# More than one DeleteObjects batch of the store's reports.
GONE_REPORTS = 1001


def bucket_keys(s3) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="lake")
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.fixture
def lake():
    """A stack serving store-2 whose lake holds store-1's day (restated once) and store-2's, in
    every layer and in the curated table, plus a data file of store-1 no commit listed."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="lake")
        boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": DATABASE_NAME})
        catalog = glue_catalog(boto3.client("glue", region_name=REGION), s3, database=DATABASE_NAME, bucket="lake")
        commit(catalog, land(s3, "first", 3, store=GONE))
        commit(catalog, land(s3, "other", 2, store=KEPT))
        commit(catalog, land(s3, "again", 2, store=GONE))
        land(s3, "uncommitted", 1, store=GONE)
        for store in (GONE, KEPT):
            for layer in STORE_LAYERS:
                s3.put_object(Bucket="lake", Key=f"{store_prefix(layer, store)}report_type={REPORT}/x", Body=b"x")
        for n in range(GONE_REPORTS - 1):
            s3.put_object(Bucket="lake", Key=f"{store_prefix('reports/', GONE)}report_type={REPORT}/{n}", Body=b"x")
        template = {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {
                DATA_BUCKET: {"Value": "lake"},
                DATABASE: {"Value": DATABASE_NAME},
                STORE_IDS: {"Value": KEPT},
            },
        }
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
        yield s3, catalog


def forget(*arguments: str) -> int:
    return main(["forget-store", "--stack-name", STACK, "--region", REGION, *arguments])


def test_without_yes_it_says_what_it_would_delete_and_deletes_nothing(lake, capsys):
    s3, catalog = lake
    before = bucket_keys(s3)
    # when store-1 is forgotten without --yes
    code = forget("--store", GONE, "--json")
    captured = capsys.readouterr()
    # then it exits 1 with one line saying to add --yes, and one JSON line of what would go
    assert code == 1
    assert captured.err.count("\n") == 1 and "add --yes" in captured.err
    (line,) = captured.out.splitlines()
    plan = json.loads(line)
    assert plan["deleted"] is False
    assert plan["tableRows"] == {"order_fees_curated": 2, "user_events_curated": 0}
    assert plan["objects"][store_prefix("reports/", GONE)] == GONE_REPORTS
    assert plan["objects"][store_prefix("manifests/", GONE)] == 1
    # (the restated day's current file and the uncommitted one; the first is read by an old snapshot)
    assert plan["objects"]["iceberg/order_fees_curated/data/store=store-1/"] == 3
    # and nothing is deleted
    assert bucket_keys(s3) == before
    assert len(catalog.table(REPORT).snapshots()) == 3


def test_yes_deletes_the_stores_rows_snapshots_and_every_folder_and_keeps_the_other_stores(lake, capsys):
    s3, catalog = lake
    kept_before = sorted(key for key in bucket_keys(s3) if f"store={GONE}/" not in key)
    # when store-1 is forgotten
    code = forget("--store", GONE, "--yes", "--json")
    captured = capsys.readouterr()
    # then the answer is one JSON line (progress on stderr)
    assert code == 0
    (line,) = captured.out.splitlines()
    answer = json.loads(line)
    assert answer["tables"]["order_fees_curated"]["rowsDeleted"] == 2
    assert answer["objects"][store_prefix("reports/", GONE)] == GONE_REPORTS
    assert "order_fees_curated" in captured.err
    # and no object of the store is left in any layer, nor any data file of its in the tables' folders
    assert [key for key in bucket_keys(s3) if f"store={GONE}/" in key] == []
    # and the other store's objects are all there, and its rows the table's only rows
    assert sorted(key for key in bucket_keys(s3) if f"store={GONE}/" not in key and "/metadata/" not in key) == [
        key for key in kept_before if "/metadata/" not in key
    ]
    assert tasks_by_day(read_table(catalog, REPORT)) == {(KEPT, DAY): Counter({"other": 2})}
    # and no older snapshot is left to travel back to
    assert len(catalog.table(REPORT).snapshots()) == 1


def test_a_store_the_stack_still_serves_is_refused_in_one_line(lake, capsys):
    s3, _ = lake
    before = bucket_keys(s3)
    assert forget("--store", KEPT, "--yes") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"store {KEPT} is still configured in stack {STACK}: remove it from cdk.json and `make deploy` first" in err
    assert bucket_keys(s3) == before

"""Hours since a report type last landed, read from its manifests' write times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bwp.freshness import hours_since_last_landing
from bwp.gaps import manifests_in_s3
from bwp.lake.partition import Partition, Series

BUCKET = "lake"


def test_a_report_type_that_never_landed_has_no_age(s3):
    # given a lake with only another report type's manifest
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=Partition("acme", "USER_EVENTS", date(2024, 8, 1)).manifest_key, Body=b"{}")
    # then ORDER_FEES has no age: nothing to be stale about yet
    manifests = manifests_in_s3(s3, BUCKET)
    assert hours_since_last_landing(manifests, Series("acme", "ORDER_FEES"), datetime.now(UTC)) is None


def test_the_age_is_that_of_the_newest_manifest_whatever_its_day(s3):
    # given two manifests of ORDER_FEES, the older day written last (a backfill)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=Partition("acme", "ORDER_FEES", date(2024, 8, 2)).manifest_key, Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key=Partition("acme", "ORDER_FEES", date(2024, 8, 1)).manifest_key, Body=b"{}")
    written = max(item["LastModified"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    # when its age is asked 30 hours after the last write
    manifests = manifests_in_s3(s3, BUCKET)
    hours = hours_since_last_landing(manifests, Series("acme", "ORDER_FEES"), written + timedelta(hours=30))
    # then it is 30 hours
    assert hours == 30.0


def test_each_store_has_its_own_age_and_a_new_store_none(s3):
    # given acme's ORDER_FEES landed, and acme-eu's never did
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=Partition("acme", "ORDER_FEES", date(2024, 8, 1)).manifest_key, Body=b"{}")
    written = s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["LastModified"]
    manifests = manifests_in_s3(s3, BUCKET)
    # then acme's age is known and acme-eu's is not: acme's landing does not make acme-eu look fresh
    assert hours_since_last_landing(manifests, Series("acme", "ORDER_FEES"), written + timedelta(hours=2)) == 2.0
    assert hours_since_last_landing(manifests, Series("acme-eu", "ORDER_FEES"), written) is None

"""Publishing a window: what a commit killed half-way leaves in the raw table's location is taken back."""

from datetime import UTC, date, datetime, timedelta

from bwp.lake.partition import Partition, Series
from bwp.landing.publication import PUBLISHING_GRACE, withdraw_unlanded

from tests.moto_account import LAKE_BUCKET, STORE, settings_with

LANDED_DAY, UNLANDED_DAY = "2024-08-21", "2024-08-22"


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=LAKE_BUCKET, Key=key, Body=body)


def objects(s3, prefix: str = "") -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=LAKE_BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=LAKE_BUCKET, Key=item["Key"])["Body"].read() for item in listing}


def test_objects_of_a_day_without_manifest_are_taken_out_once_no_commit_can_be_publishing_them(s3):
    # given a versioned lake with a landed day, and a day whose commit died after publishing its
    # raw report, before its manifest
    s3.put_bucket_versioning(Bucket=LAKE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    settings = settings_with()
    for day in (LANDED_DAY, UNLANDED_DAY):
        put(s3, Partition(STORE, "ORDER_FEES", date.fromisoformat(day)).raw_key, f"raw {day}".encode())
    put(s3, Partition(STORE, "ORDER_FEES", date.fromisoformat(LANDED_DAY)).manifest_key, b"{}\n")
    landed = {Series(STORE, "ORDER_FEES"): {date.fromisoformat(LANDED_DAY)}}
    before = objects(s3)
    now = datetime.now(UTC)
    # when a summary runs while a commit could still be publishing them, then nothing moves
    assert (
        withdraw_unlanded(s3, settings, landed, [Series(STORE, "ORDER_FEES"), Series(STORE, "USER_EVENTS")], now) == []
    )
    assert objects(s3) == before
    # when a summary runs once none can
    withdrawn = withdraw_unlanded(
        s3, settings, landed, [Series(STORE, "ORDER_FEES")], now + PUBLISHING_GRACE + timedelta(minutes=1)
    )
    # then the unlanded day's report left the table, and the landed day is untouched
    assert withdrawn == [Partition(STORE, "ORDER_FEES", date.fromisoformat(UNLANDED_DAY)).raw_key]
    assert {key for key in objects(s3) if not key.startswith("quarantine/")} == {
        Partition(STORE, "ORDER_FEES", date.fromisoformat(LANDED_DAY)).raw_key,
        Partition(STORE, "ORDER_FEES", date.fromisoformat(LANDED_DAY)).manifest_key,
    }
    # and the raw report's bytes are kept under quarantine/, named for its day
    ((kept, body),) = objects(s3, "quarantine/").items()
    assert kept.startswith(Partition(STORE, "ORDER_FEES", date.fromisoformat(UNLANDED_DAY)).quarantine_key("unlanded."))
    assert body == f"raw {UNLANDED_DAY}".encode()

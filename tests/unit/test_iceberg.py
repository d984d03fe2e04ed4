"""The curated Iceberg tables on either catalog (SQLite, as the local twin has it, and moto's Glue)
and moto's S3: days replaced in one snapshot, writers that race, a commit that fails, drift as a
table column, time travel and snapshot expiry.

Every data file is written as the land step writes it (bwp.landing.curated from a gzip CSV), and
every file of the tables goes through the test's moto S3 client: a FileIO that opened its own
connection would be refused (unit tests use no network)."""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from bwp import errors
from bwp.iceberg.catalog import LakeCatalog, glue_catalog, sql_catalog
from bwp.iceberg.commit import COMMIT_ATTEMPTS, LandedDay, replace_days, replaced_days
from bwp.iceberg.maintenance import expire_snapshots, forget_store
from bwp.iceberg.reading import read_table
from bwp.lake.manifest import glue_column_comments
from bwp.lake.schemas import ORDER_FEES, snake_case
from bwp.landing.curated import write_curated

from bwp_lake.local.engine import REGION
from tests.moto_account import LAKE_BUCKET

REPORT = "ORDER_FEES"
STORE = "store-1"
DAY = date(2024, 8, 22)
OTHER_DAY = date(2024, 8, 23)


def no_pause(_seconds: float) -> None:
    """Attempts follow each other at once: tests don't time things."""


def open_catalog(kind: str, s3, tmp_path) -> LakeCatalog:
    """A handle on the tables' catalog: the local twin's SQLite file, or moto's Glue database."""
    if kind == "glue":
        return glue_catalog(boto3.client("glue", region_name=REGION), s3, database="bwp", bucket=LAKE_BUCKET)
    return sql_catalog(tmp_path / "catalog.sqlite", s3, namespace="bwp", bucket=LAKE_BUCKET)


@pytest.fixture(params=["sqlite", "glue"])
def catalog_kind(request, aws) -> str:
    if request.param == "glue":
        boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": "bwp"})
    return request.param


@pytest.fixture
def catalog(catalog_kind, s3, tmp_path) -> LakeCatalog:
    return open_catalog(catalog_kind, s3, tmp_path)


@pytest.fixture
def second_catalog(catalog_kind, s3, tmp_path, catalog) -> LakeCatalog:
    """Another writer's handle on the same catalog (its own connection to it)."""
    return open_catalog(catalog_kind, s3, tmp_path)


def land(s3, task_id: str, rows: int, *, day: date = DAY, store: str = STORE, extra: tuple[str, ...] = ()) -> LandedDay:
    """A day landed as the land step lands it: its gzip CSV in the bucket, typed into a Parquet file
    of its own (named by its task). Each row's orderId names the task: ``<task>-<n>``."""
    header = [*ORDER_FEES.column_names, *extra]
    lines = [",".join(header)]
    for n in range(rows):
        values = {"orderId": f"{task_id}-{n}", "feeAmount": "1.50", **{name: f"{name}-{n}" for name in extra}}
        lines.append(",".join(values.get(name, "") for name in header))
    text = ("\n".join(lines) + "\n").encode()
    raw_key = f"staging/{store}/{day}/{task_id}.csv.gz"
    data_key = f"iceberg/order_fees_curated/data/store={store}/dt={day}/{task_id}.parquet"
    s3.put_object(Bucket=LAKE_BUCKET, Key=raw_key, Body=gzip.compress(text))
    write_curated(
        s3=s3, bucket=LAKE_BUCKET, source_key=raw_key, key=data_key, schema=ORDER_FEES, header=header, raw_rows=rows
    )
    return LandedDay(store, day, task_id, hashlib.sha256(text).hexdigest(), (data_key,))


def commit(catalog: LakeCatalog, *days: LandedDay, attempts: int = COMMIT_ATTEMPTS):
    return replace_days(catalog, REPORT, days, attempts=attempts, pause=no_pause)


def tasks_by_day(table: pa.Table) -> dict[tuple[str, date], Counter]:
    """Rows per (store, day) per task that landed them (from orderId)."""
    found: dict[tuple[str, date], Counter] = {}
    for row in table.select(["store", "dt", "order_id"]).to_pylist():
        found.setdefault((row["store"], row["dt"]), Counter())[row["order_id"].rsplit("-", 1)[0]] += 1
    return found


def keys(s3) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=LAKE_BUCKET).get("Contents", [])}


def test_re_running_a_day_replaces_it_and_the_snapshot_names_its_task(s3, catalog):
    # given a table holding two days
    commit(catalog, land(s3, "first", 3), land(s3, "other", 2, day=OTHER_DAY))
    for run in ("second", "third"):
        # when the first day is landed and committed again, by another task
        result = commit(catalog, land(s3, run, 3))
        # then the day holds this task's rows alone, as many as before, and the other day is untouched
        assert tasks_by_day(read_table(catalog, REPORT)) == {
            (STORE, DAY): Counter({run: 3}),
            (STORE, OTHER_DAY): Counter({"other": 2}),
        }
        assert result.replaced == ((STORE, DAY),)
    # and each commit is one snapshot whose summary names the day, its task and its raw sha256
    table = catalog.table(REPORT)
    assert len(table.snapshots()) == 3
    (last,) = replaced_days(table.current_snapshot())
    assert (last.store, last.day, last.task_id) == (STORE, DAY, "third")
    assert last.raw_sha256 == land(s3, "third", 3).raw_sha256


def test_re_applying_a_commit_that_landed_changes_nothing(s3, catalog):
    # given a commit that landed (its answer lost, say)
    day = land(s3, "first", 3)
    landed = commit(catalog, day)
    # when it is applied again
    again = commit(catalog, day)
    # then no snapshot is added and the day is there once
    assert again.snapshot_id == landed.snapshot_id
    assert (again.replaced, again.already_in_place) == ((), ((STORE, DAY),))
    assert len(catalog.table(REPORT).snapshots()) == 1
    assert tasks_by_day(read_table(catalog, REPORT)) == {(STORE, DAY): Counter({"first": 3})}


@dataclass
class Race:
    """Makes each of ``loser``'s next catalog commits find that ``winner`` had just committed a day
    of ``days``, one per commit."""

    winner: LakeCatalog
    days: list[LandedDay]

    def install(self, loser: LakeCatalog, monkeypatch) -> None:
        commit_table = loser.catalog.commit_table

        def commit_after_the_winner(*args, **kwargs):
            if self.days:
                commit(self.winner, self.days.pop(0))
            return commit_table(*args, **kwargs)

        monkeypatch.setattr(loser.catalog, "commit_table", commit_after_the_winner)


@pytest.mark.parametrize("same_day", [False, True], ids=["other days", "the same day"])
def test_two_writers_racing_on_one_table_both_land_and_each_day_is_there_once(
    s3, catalog, second_catalog, monkeypatch, same_day
):
    # given a table, and two writers that planned their commits on the same version of it
    commit(catalog, land(s3, "before", 1))
    winner_day = land(s3, "winner", 2, day=DAY if same_day else OTHER_DAY)
    Race(second_catalog, [winner_day]).install(catalog, monkeypatch)
    # when one commits just before the other
    result = commit(catalog, land(s3, "loser", 4))
    # then the one that lost planned again from the table the winner left, and both landed
    assert result.attempts == 2
    by_day = tasks_by_day(read_table(second_catalog, REPORT))
    if same_day:
        # the day both replaced holds the last commit's rows, once
        assert by_day == {(STORE, DAY): Counter({"loser": 4})}
    else:
        assert by_day == {(STORE, DAY): Counter({"loser": 4}), (STORE, OTHER_DAY): Counter({"winner": 2})}
    assert [len(replaced_days(s)) for s in second_catalog.table(REPORT).snapshots()] == [1, 1, 1]


def test_a_commit_that_loses_every_race_is_a_named_conflict_and_lands_nothing(s3, catalog, second_catalog, monkeypatch):
    # given another writer that commits just before each of this writer's attempts
    commit(catalog, land(s3, "before", 1))
    winners = [land(s3, f"winner{n}", 2, day=OTHER_DAY) for n in range(COMMIT_ATTEMPTS)]
    race = Race(second_catalog, list(winners))
    race.install(catalog, monkeypatch)
    # when this writer commits
    with pytest.raises(errors.CuratedCommitConflict, match=f"each of {COMMIT_ATTEMPTS} attempts"):
        commit(catalog, land(s3, "loser", 4))
    # then it tried as often as it may, and readers see the other writer's table, without its day
    assert race.days == []
    assert tasks_by_day(read_table(second_catalog, REPORT)) == {
        (STORE, DAY): Counter({"before": 1}),
        (STORE, OTHER_DAY): Counter({f"winner{COMMIT_ATTEMPTS - 1}": 2}),
    }


def test_a_commit_that_fails_midway_leaves_readers_on_the_previous_snapshot(s3, catalog, second_catalog):
    # given a table with a day, and S3 failing as the restatement writes the table's new metadata
    before = commit(catalog, land(s3, "first", 3))
    restated = land(s3, "second", 5)

    def fail_metadata_writes(params, **_):
        if params["Key"].endswith(".metadata.json"):
            raise ClientError({"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "Put")

    s3.meta.events.register("before-parameter-build.s3.PutObject", fail_metadata_writes)
    # when the day is restated, it fails with the name the state machine retries
    with pytest.raises(errors.AwsUnavailable, match="committing 1 day"):
        commit(catalog, restated)
    # then readers, this writer's and another's, are on the previous snapshot and its rows
    for reader in (catalog, second_catalog):
        assert reader.table(REPORT).current_snapshot().snapshot_id == before.snapshot_id
        assert tasks_by_day(read_table(reader, REPORT)) == {(STORE, DAY): Counter({"first": 3})}
    # and once S3 is back, the same commit lands
    s3.meta.events.unregister("before-parameter-build.s3.PutObject", fail_metadata_writes)
    commit(catalog, restated)
    assert tasks_by_day(read_table(second_catalog, REPORT)) == {(STORE, DAY): Counter({"second": 5})}


def test_a_header_column_the_registry_does_not_know_becomes_a_table_column(s3, catalog):
    # given a day landed before the drift
    commit(catalog, land(s3, "before", 2, day=OTHER_DAY))
    # when a day whose header has a column the registry does not know is committed
    commit(catalog, land(s3, "drifted", 2, extra=("promoCode",)))
    # then the table has it as a nullable text column: the day's values, NULL on the day before
    field = catalog.table(REPORT).schema().find_field("extra_promo_code")
    assert (str(field.field_type), field.required) == ("string", False)
    rows = read_table(catalog, REPORT).sort_by("order_id").select(["order_id", "extra_promo_code"]).to_pylist()
    assert rows == [
        {"order_id": "before-0", "extra_promo_code": None},
        {"order_id": "before-1", "extra_promo_code": None},
        {"order_id": "drifted-0", "extra_promo_code": "promoCode-0"},
        {"order_id": "drifted-1", "extra_promo_code": "promoCode-1"},
    ]
    # and a later day without the column keeps it in the table
    commit(catalog, land(s3, "after", 1, day=date(2024, 8, 24)))
    assert "extra_promo_code" in catalog.table(REPORT).schema().column_names


def test_a_new_table_describes_each_column_as_the_registry_does(s3, catalog, catalog_kind):
    # when the first commit creates the report type's table
    commit(catalog, land(s3, "first", 1))
    # then each registry column carries the registry's description as its doc, the partition columns theirs
    fields = {field.name: field.doc for field in catalog.table(REPORT).schema().fields}
    for column in ORDER_FEES.columns:
        assert fields[snake_case(column.name)] == ORDER_FEES.column_description(column)
    assert fields["store"] == glue_column_comments()["store"]
    assert fields["dt"] and all(fields.values())
    if catalog_kind == "glue":
        # and the Glue table shows them as the columns' comments, which Athena lists
        glue = boto3.client("glue", region_name=REGION)
        columns = glue.get_table(DatabaseName="bwp", Name="order_fees_curated")["Table"]["StorageDescriptor"]["Columns"]
        assert {column["Name"]: column.get("Comment") for column in columns} == fields


def test_time_travel_shows_a_day_as_it_was_before_its_restatement(s3, catalog):
    # given a day committed, then restated
    first = commit(catalog, land(s3, "first", 3))
    commit(catalog, land(s3, "restated", 2))
    table = catalog.table(REPORT)
    committed_at = datetime.fromtimestamp(table.snapshot_by_id(first.snapshot_id).timestamp_ms / 1000, UTC)
    # when the table is read as of the first commit, and as of before any commit
    as_it_was = read_table(catalog, REPORT, as_of=committed_at)
    before_any = read_table(catalog, REPORT, as_of=committed_at - timedelta(seconds=1))
    # then it shows the rows before the restatement, then none; the table now shows the restated rows
    assert tasks_by_day(as_it_was) == {(STORE, DAY): Counter({"first": 3})}
    assert before_any.num_rows == 0 and "order_id" in before_any.column_names
    assert tasks_by_day(read_table(catalog, REPORT)) == {(STORE, DAY): Counter({"restated": 2})}


def test_snapshot_expiry_forgets_snapshots_older_than_the_retention_and_deletes_their_files(s3, catalog):
    # given a day committed three times: three snapshots, the first two of rows restated since
    days = [land(s3, task, 2) for task in ("first", "second", "third")]
    for day in days:
        commit(catalog, day)
    first, second, third = catalog.table(REPORT).snapshots()
    retention = timedelta(days=30)
    at = lambda snapshot: datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)  # noqa: E731
    assert at(first) < at(second) < at(third)
    # when the expiry runs while only the first is older than the retention
    expiry = expire_snapshots(catalog, REPORT, now=at(second) + retention, retention=retention)
    # then the first is forgotten and its data file deleted; the others and their files stay
    assert expiry.snapshots_expired == 1
    assert [s.snapshot_id for s in catalog.table(REPORT).snapshots()] == [second.snapshot_id, third.snapshot_id]
    assert days[0].data_keys[0] not in keys(s3)
    assert {days[1].data_keys[0], days[2].data_keys[0]} <= keys(s3)
    assert read_table(catalog, REPORT, as_of=at(second)).num_rows == 2
    # when it runs long after the last commit, the current snapshot is kept however old
    expire_snapshots(catalog, REPORT, now=at(third) + 10 * retention, retention=retention)
    assert [s.snapshot_id for s in catalog.table(REPORT).snapshots()] == [third.snapshot_id]
    assert days[1].data_keys[0] not in keys(s3) and days[2].data_keys[0] in keys(s3)
    assert tasks_by_day(read_table(catalog, REPORT)) == {(STORE, DAY): Counter({"third": 2})}


def test_forgetting_a_store_deletes_its_rows_its_files_and_every_snapshot_that_read_them(s3, catalog):
    # given a table holding a store's day restated once and another store's day
    commit(catalog, land(s3, "first", 3))
    commit(catalog, land(s3, "other", 2, store="store-2"))
    commit(catalog, land(s3, "again", 2))
    before = datetime.now(UTC)
    assert catalog.table(REPORT).snapshots()[-1].timestamp_ms <= before.timestamp() * 1000
    # when the store is forgotten
    forgotten = forget_store(catalog, REPORT, STORE, pause=no_pause)
    # then the table holds no row of the store, and the other store's rows as they were
    assert forgotten.rows_deleted == 2
    assert tasks_by_day(read_table(catalog, REPORT)) == {("store-2", DAY): Counter({"other": 2})}
    # and no file of the store is left in the bucket, the other store's is
    store_files = "iceberg/order_fees_curated/data/store=store-1/"
    assert [key for key in keys(s3) if key.startswith(store_files)] == []
    assert any(key.startswith("iceberg/order_fees_curated/data/store=store-2/") for key in keys(s3))
    # and time travel to before cannot bring its rows back: only the deleting snapshot is left
    assert len(catalog.table(REPORT).snapshots()) == 1
    assert forgotten.expiry.snapshots_expired == 3
    assert tasks_by_day(read_table(catalog, REPORT, as_of=before)).get((STORE, DAY)) is None
    # when it is forgotten again, nothing more is deleted and the table stays as it is
    again = forget_store(catalog, REPORT, STORE, pause=no_pause)
    assert (again.rows_deleted, again.expiry.snapshots_expired) == (0, 0)
    assert tasks_by_day(read_table(catalog, REPORT)) == {("store-2", DAY): Counter({"other": 2})}


def test_forgetting_a_store_after_a_delete_that_stopped_half_way_still_deletes_its_files(s3, catalog):
    # given a store whose rows were deleted but whose older snapshots (and files) were kept
    landed = land(s3, "first", 3)
    commit(catalog, landed, land(s3, "other", 2, store="store-2"))
    catalog.table(REPORT).delete(f"store == '{STORE}'")
    assert landed.data_keys[0] in keys(s3)
    # when the store is forgotten
    forgotten = forget_store(catalog, REPORT, STORE, pause=no_pause)
    # then the older snapshot is expired and the store's file deleted
    assert forgotten.rows_deleted == 0 and forgotten.expiry.snapshots_expired == 1
    assert landed.data_keys[0] not in keys(s3)
    assert tasks_by_day(read_table(catalog, REPORT)) == {("store-2", DAY): Counter({"other": 2})}

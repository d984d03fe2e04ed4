"""Replacing days of a curated table: one snapshot that drops what the table held for those days and
adds the typed Parquet files the land step wrote for them.

The land step streams each day's typed file into S3 as today, in constant memory; committing is a
metadata operation, done once per table for every day that landed. One commit is one OVERWRITE
snapshot: for each (store, day) its current data files are deleted and the new ones added, so a
reader sees either every day of the commit replaced or none, and a day run again replaces its rows
instead of adding to them. The snapshot's summary records each replaced day's task id and the raw
report's sha256 (``replaced_days`` reads them back).

Concurrent writers: each attempt plans from the table as the catalog has it now, and the catalog
refuses a commit whose base is no longer current. A commit that lost such a race is planned again
from the fresh table (the other writer's days stay; a day both replaced is replaced again, with
this commit's files), a bounded number of times, then ``CuratedCommitConflict`` for the state
machine to retry later. A day whose files already are the table's files for it is left alone, so
re-applying a commit that landed (its answer lost, say) changes nothing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import reduce
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import And, BooleanExpression, EqualTo, Or
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    _check_pyarrow_schema_compatible,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestContent
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.typedef import Record
from pyiceberg.utils.datetime import date_to_days

from bwp.aws import transient_aws_errors
from bwp.errors import CuratedCommitConflict
from bwp.iceberg.catalog import LakeCatalog
from bwp.iceberg.file_io import s3_location
from bwp.iceberg.tables import DAY_COLUMN, STORE_COLUMN

# Attempts of one commit before the state machine is asked to retry it; between two, a pause of
# up to PAUSE_SECONDS doubling (full jitter), so writers that collided do not collide again.
COMMIT_ATTEMPTS = 4
PAUSE_SECONDS = 0.5
# Snapshot summary keys: one per day replaced, ``bwp.replaced.store=<id>/dt=<day>``.
REPLACED_DAY_PREFIX = "bwp.replaced."
DAYS_REPLACED = "bwp.days-replaced"

Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class LandedDay:
    """One store's day of a report type, landed: the typed Parquet files the land step wrote for it
    (keys in the lake bucket, each written once and never overwritten) and what it came from."""

    store: str
    day: date
    task_id: str
    raw_sha256: str
    data_keys: tuple[str, ...]

    @property
    def partition(self) -> tuple[str, date]:
        return (self.store, self.day)


@dataclass(frozen=True)
class ReplacedDay:
    """What a snapshot's summary says of one day it replaced."""

    store: str
    day: date
    task_id: str
    raw_sha256: str


@dataclass(frozen=True)
class CommitResult:
    snapshot_id: int | None  # the table's current snapshot after the commit (None: still empty)
    replaced: tuple[tuple[str, date], ...]  # (store, day) replaced by this commit's snapshot
    already_in_place: tuple[tuple[str, date], ...]  # whose files already were the table's
    attempts: int = 1  # how many it took: more than one when another writer committed first


def replace_days(
    catalog: LakeCatalog,
    report_type: str,
    days: Sequence[LandedDay],
    *,
    attempts: int = COMMIT_ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
) -> CommitResult:
    """Replace ``days`` of the report type's table with their data files, in one snapshot.

    Raises CuratedCommitConflict when another writer committed first on every attempt, and
    AwsUnavailable when S3 or the catalog failed on its side; either way the table is as it was.
    """
    partitions = [day.partition for day in days]
    if len(set(partitions)) != len(partitions):
        raise ValueError(f"a day given twice in one commit: {sorted(partitions)}")
    what = f"committing {len(days)} day(s) of {report_type}"
    with transient_aws_errors(what):
        footers = _Footers(catalog.table(report_type).io, catalog.bucket)
        result, used = with_attempts(
            lambda: _replace_once(catalog.table(report_type), days, footers), attempts, pause, what
        )
    return replace(result, attempts=used)


def replaced_days(snapshot: Snapshot) -> list[ReplacedDay]:
    """The days a snapshot replaced, from its summary; none for a snapshot this module did not write."""
    found = []
    for key, value in (snapshot.summary.additional_properties if snapshot.summary else {}).items():
        if key.startswith(REPLACED_DAY_PREFIX):
            store_part, _, day = key.removeprefix(REPLACED_DAY_PREFIX).rpartition(f"/{DAY_COLUMN}=")
            lineage = json.loads(value)
            found.append(
                ReplacedDay(
                    store=store_part.removeprefix(f"{STORE_COLUMN}="),
                    day=date.fromisoformat(day),
                    task_id=lineage["taskId"],
                    raw_sha256=lineage["rawSha256"],
                )
            )
    return sorted(found, key=lambda replaced: (replaced.store, replaced.day))


def with_attempts(
    attempt: Callable[[], Outcome], attempts: int, pause: Callable[[float], None], what: str
) -> tuple[Outcome, int]:
    """``attempt`` until the catalog takes it, and how many it took: a commit refused because
    another writer committed first is tried again, at most ``attempts`` times in all."""
    for number in range(1, attempts + 1):
        try:
            return attempt(), number
        except (CommitFailedException, ValidationException) as error:
            if number == attempts:
                raise CuratedCommitConflict(
                    f"{what}: another writer committed first on each of {attempts} attempts ({error}); "
                    "nothing of this commit is in the table"
                ) from None
            pause(random.uniform(0, PAUSE_SECONDS * 2 ** (number - 1)))
    raise ValueError(f"attempts must be at least 1, got {attempts}")


def _replace_once(table: Table, days: Sequence[LandedDay], footers: _Footers) -> CommitResult:
    current = _current_files(table, [day.partition for day in days])
    pending = [
        day
        for day in days
        if {data_file.file_path for data_file in current[day.partition]} != set(footers.locations(day.data_keys))
    ]
    already = tuple(day.partition for day in days if day not in pending)
    if not pending:
        return CommitResult(_current_snapshot_id(table), (), already)
    transaction = table.transaction()
    _add_new_columns(transaction, footers.schemas(key for day in pending for key in day.data_keys))
    with transaction.update_snapshot(snapshot_properties=_summary(pending)).overwrite() as overwrite:
        overwrite.delete_by_predicate(_days_filter(day.partition for day in pending))
        for day in pending:
            for data_file in current[day.partition]:
                overwrite.delete_data_file(data_file)
            for key in day.data_keys:
                overwrite.append_data_file(footers.data_file(transaction, key, day.partition))
    committed = transaction.commit_transaction()
    return CommitResult(_current_snapshot_id(committed), tuple(day.partition for day in pending), already)


def _current_snapshot_id(table: Table) -> int | None:
    snapshot = table.current_snapshot()
    return snapshot.snapshot_id if snapshot else None


def _current_files(table: Table, partitions: list[tuple[str, date]]) -> dict[tuple[str, date], list[DataFile]]:
    """The data files the table's current snapshot holds for each partition: a walk of its manifests,
    each live entry looked up by its partition (a scan filtered on the days would evaluate the
    filter, as long as the days are many, once per file)."""
    found: dict[tuple[str, date], list[DataFile]] = {partition: [] for partition in partitions}
    snapshot = table.current_snapshot()
    if snapshot is None:
        return found
    by_record = {(store, date_to_days(day)): (store, day) for store, day in partitions}
    for manifest in snapshot.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            partition = by_record.get((entry.data_file.partition[0], entry.data_file.partition[1]))
            if partition is not None:
                found[partition].append(entry.data_file)
    return found


def _days_filter(partitions: Iterable[tuple[str, date]]) -> BooleanExpression:
    days: Iterable[BooleanExpression] = (
        And(column_equals(STORE_COLUMN, store), column_equals(DAY_COLUMN, day.isoformat())) for store, day in partitions
    )
    return reduce(Or, days)


def column_equals(column: str, value: str) -> BooleanExpression:
    # EqualTo's own __init__ takes (term, literal); mypy sees only the pydantic fields behind it.
    return EqualTo(column, value)  # type: ignore[call-arg, arg-type]


def _add_new_columns(transaction: Transaction, schemas: Iterable[pa.Schema]) -> None:
    """Each column of the files that the table lacks (a header column the registry does not
    know, kept by the typing as ``extra_<name>`` text) becomes a nullable column of the table;
    the table never drops one, and older days read it as NULL."""
    if transaction.table_metadata.name_mapping() is None:
        # The typed files carry no Iceberg field ids: readers match their columns by name.
        schema = transaction.table_metadata.schema()
        transaction.set_properties({TableProperties.DEFAULT_NAME_MAPPING: schema.name_mapping.model_dump_json()})
    known = set(transaction.table_metadata.schema().column_names)
    new: dict[str, pa.Field] = {}
    for schema in schemas:
        for field in schema:
            if field.name not in known:
                new.setdefault(field.name, field.with_nullable(True))
    if new:
        with transaction.update_schema() as update:
            update.union_by_name(pa.schema(list(new.values())))


def _summary(days: Sequence[LandedDay]) -> dict[str, str]:
    lineage = {
        f"{REPLACED_DAY_PREFIX}{STORE_COLUMN}={day.store}/{DAY_COLUMN}={day.day}": json.dumps(
            {"taskId": day.task_id, "rawSha256": day.raw_sha256}
        )
        for day in days
    }
    return {DAYS_REPLACED: str(len(days)), **lineage}


class _Footers:
    """The new data files' Parquet footers, read once (a ranged GET of each file's end) and reused
    by every attempt: a file is written once, so its footer does not change between attempts."""

    def __init__(self, io: FileIO, bucket: str) -> None:
        self._io, self._bucket = io, bucket
        self._read: dict[str, tuple[pq.FileMetaData, int]] = {}

    def locations(self, keys: Iterable[str]) -> list[str]:
        return [s3_location(self._bucket, key) for key in keys]

    def schemas(self, keys: Iterable[str]) -> list[pa.Schema]:
        return [self._footer(key)[0].schema.to_arrow_schema() for key in keys]

    def data_file(self, transaction: Transaction, key: str, partition: tuple[str, date]) -> DataFile:
        """The file as a data file of the table's partition ``partition``, with its column metrics.

        pyiceberg's add_files infers a file's partition from its columns' bounds, which the typed
        files cannot give (they hold no store or day column): the partition is the day's own."""
        metadata, size = self._footer(key)
        table_metadata = transaction.table_metadata
        schema = table_metadata.schema()
        _check_pyarrow_schema_compatible(
            schema, metadata.schema.to_arrow_schema(), format_version=table_metadata.format_version
        )
        statistics = data_file_statistics_from_parquet_metadata(
            parquet_metadata=metadata,
            stats_columns=compute_statistics_plan(schema, table_metadata.properties),
            parquet_column_mapping=parquet_path_to_id_mapping(schema),
        )
        store, day = partition
        return DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=s3_location(self._bucket, key),
            file_format=FileFormat.PARQUET,
            partition=Record(store, date_to_days(day)),
            file_size_in_bytes=size,
            sort_order_id=None,
            spec_id=table_metadata.default_spec_id,
            equality_ids=None,
            key_metadata=None,
            **statistics.to_serialized_dict(),
        )

    def _footer(self, key: str) -> tuple[pq.FileMetaData, int]:
        if key not in self._read:
            source = self._io.new_input(s3_location(self._bucket, key))
            with source.open() as stream:
                self._read[key] = (pq.read_metadata(stream), len(source))
        return self._read[key]

"""A window's objects become visible in the table locations only once the whole day has been made
and committed.

The land step writes the raw report and the day's manifest under ``staging/``, which no table
reads, and its typed Parquet data file under its own name inside the curated Iceberg table's
location, which no reader sees until a snapshot lists it. After the Map, *Commit curated tables*
adds the data files to the tables and only then publishes each committed day: a server-side
copy of the raw report into ``reports/``, then of the manifest into ``manifests/``, then the
staged copies go. A landed day that runs again keeps its old raw file, table rows and manifest
until the new ones are committed. A day that cannot be curated never reaches a table location:
its raw report, the bytes the API served, is moved under ``quarantine/`` and named in the
window's failure and the ledger.

Publishing is a few calls, so a commit killed between them can leave a raw report without its
manifest. Every run's summary takes such objects back (``withdraw_unlanded``): one that no
commit can still be publishing is moved under ``quarantine/``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from bwp.lake.contract import REPORTS_PREFIX
from bwp.lake.partition import Partition, Series, day_of_key
from bwp.lake.settings import Settings
from bwp.observability import logger

# CopyObject copies up to 5 GB in one call; a larger object needs a multipart copy
# (UploadPartCopy), which the transfer manager makes in parts of 512 MiB, four at once. Both run
# inside S3: nothing passes through the function.
_COPY = TransferConfig(multipart_threshold=4 * 1024**3, multipart_chunksize=512 * 1024**2, max_concurrency=4)
_CHECKSUM = {"ChecksumAlgorithm": "CRC32"}
# A commit runs 15 minutes at most (commit_curated's timeout): a raw report without a manifest
# that is older than that belongs to no commit still publishing.
PUBLISHING_GRACE = timedelta(minutes=20)
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StagedWindow:
    """Where one landing attempt of a (report type, day) keeps its objects until they are
    committed and published."""

    raw: str
    manifest: str
    data: str  # the typed data file, at its final key in the table's location (never overwritten)
    quarantine: str  # where the raw object goes if the day cannot be curated

    @classmethod
    def for_attempt(cls, partition: Partition, task_id: str) -> StagedWindow:
        # The task id names the attempt for a person; the random suffix keeps two landings of the
        # same task (overlapping executions) apart.
        name = f"{_UNSAFE_IN_NAME.sub('_', task_id)}.{uuid.uuid4().hex[:12]}"
        return cls(
            raw=partition.staging_key(f"{name}.csv.gz"),
            manifest=partition.staging_key(f"{name}.manifest.json"),
            data=partition.curated_data_key(name),
            quarantine=partition.quarantine_key(f"{name}.csv.gz"),
        )


def publish(s3, bucket: str, copies: Mapping[str, str]) -> None:
    """Copy each staged key onto its table key, inside S3."""
    for staged, published in copies.items():
        # A checksum of the copy's own: the staged object's is of its upload's parts, which the
        # copy does not keep.
        s3.copy({"Bucket": bucket, "Key": staged}, bucket, published, ExtraArgs=_CHECKSUM, Config=_COPY)


def quarantine(s3, bucket: str, staged: StagedWindow) -> str:
    """Move the staged raw report aside for good; its quarantine key."""
    publish(s3, bucket, {staged.raw: staged.quarantine})
    discard(s3, bucket, staged.raw)
    return staged.quarantine


def discard(s3, bucket: str, *keys: str) -> None:
    """Delete staged objects, best effort: a leftover is outside every table and expires by itself."""
    for key in keys:
        try:
            s3.delete_object(Bucket=bucket, Key=key)
        except (BotoCoreError, ClientError) as error:  # the landing's outcome stands either way
            logger.warning("staged object left for the lifecycle rule", extra={"key": key, "error": repr(error)})


def withdraw_unlanded(
    s3, settings: Settings, landed: Mapping[Series, set[date]], series: Iterable[Series], now: datetime
) -> list[str]:
    """Take out of the raw table's location every report of a day without a manifest that no
    commit can still be publishing: it goes under quarantine/. The keys taken out. (The curated
    tables need no such care: a reader sees only the data files a snapshot lists.)"""
    withdrawn = []
    for one in series:
        for item in _objects(s3, settings.lake_bucket, one.prefix(REPORTS_PREFIX)):
            day = day_of_key(item["Key"])
            if day in landed.get(one, set()) or item["LastModified"] > now - PUBLISHING_GRACE:
                continue
            _withdraw(s3, settings, one, day, item["Key"])
            withdrawn.append(item["Key"])
    if withdrawn:
        logger.warning("objects of days that did not land taken out of the tables", extra={"keys": withdrawn})
    return withdrawn


def _objects(s3, bucket: str, prefix: str) -> Iterable[dict]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _withdraw(s3, settings: Settings, series: Series, day: date | None, key: str) -> None:
    # The version read now is the one kept and deleted: a commit that publishes the day meanwhile
    # writes a newer version, which stays.
    version = s3.head_object(Bucket=settings.lake_bucket, Key=key).get("VersionId")
    source = {"Bucket": settings.lake_bucket, "Key": key, **({"VersionId": version} if version else {})}
    name = f"unlanded.{uuid.uuid4().hex[:12]}.{key.rsplit('/', 1)[-1]}"
    kept = series.quarantine_key_without_day(name) if day is None else series.on(day).quarantine_key(name)
    s3.copy(source, settings.lake_bucket, kept, ExtraArgs=_CHECKSUM, Config=_COPY)
    s3.delete_object(**source)

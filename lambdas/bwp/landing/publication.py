"""A window's objects become visible in the table locations only once the whole day has been made.

The land step writes the raw report and its curated file under ``staging/``, which no table
reads, and publishes them only when both are whole: server-side copies into ``reports/`` and
``curated/``, then the manifest, then the staged copies go. A landed day that runs again keeps
its old raw file, curated file and manifest until the new pair is complete. A day that cannot be
curated never reaches a table location: its raw report, the bytes the API served, is moved under
``quarantine/`` and named in the window's failure and the ledger.

Publishing is a few calls, so a landing killed between them can leave a table object without its
manifest. Every run's summary takes such objects back (``withdraw_unlanded``): one that no
landing can still be publishing has its raw report moved under ``quarantine/`` and its curated
file deleted.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from bwp.lake.contract import CURATED_PREFIX, REPORTS_PREFIX
from bwp.lake.partition import Partition, Series, day_of_key
from bwp.lake.settings import Settings
from bwp.observability import logger

# CopyObject copies up to 5 GB in one call; a larger object needs a multipart copy
# (UploadPartCopy), which the transfer manager makes in parts of 512 MiB, four at once. Both run
# inside S3: nothing passes through the function.
_COPY = TransferConfig(multipart_threshold=4 * 1024**3, multipart_chunksize=512 * 1024**2, max_concurrency=4)
_CHECKSUM = {"ChecksumAlgorithm": "CRC32"}
# A landing runs 15 minutes at most (land_report's timeout): an object without a manifest that is
# older than that belongs to no landing still under way.
PUBLISHING_GRACE = timedelta(minutes=20)
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StagedWindow:
    """Where one landing attempt of a (report type, day) keeps its objects until they are published."""

    raw: str
    curated: str
    quarantine: str  # where the raw object goes if the day cannot be curated

    @classmethod
    def for_attempt(cls, partition: Partition, task_id: str) -> StagedWindow:
        # The task id names the attempt for a person; the random suffix keeps two landings of the
        # same task (overlapping executions) apart.
        name = f"{_UNSAFE_IN_NAME.sub('_', task_id)}.{uuid.uuid4().hex[:12]}"
        return cls(
            raw=partition.staging_key(f"{name}.csv.gz"),
            curated=partition.staging_key(f"{name}.parquet"),
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
    """Take out of the table locations every object of a day without a manifest that no landing
    can still be publishing: a raw report goes under quarantine/ first, a curated file is deleted
    (it is made again from the raw report). The keys taken out."""
    withdrawn = []
    for one in series:
        for layer in (REPORTS_PREFIX, CURATED_PREFIX):
            for item in _objects(s3, settings.lake_bucket, one.prefix(layer)):
                day = day_of_key(item["Key"])
                if day in landed.get(one, set()) or item["LastModified"] > now - PUBLISHING_GRACE:
                    continue
                _withdraw(s3, settings, one, day, item["Key"], keep=layer == REPORTS_PREFIX)
                withdrawn.append(item["Key"])
    if withdrawn:
        logger.warning("objects of days that did not land taken out of the tables", extra={"keys": withdrawn})
    return withdrawn


def _objects(s3, bucket: str, prefix: str) -> Iterable[dict]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _withdraw(s3, settings: Settings, series: Series, day: date | None, key: str, *, keep: bool) -> None:
    # The version read now is the one kept and deleted: a landing that publishes the day meanwhile
    # writes a newer version, which stays.
    version = s3.head_object(Bucket=settings.lake_bucket, Key=key).get("VersionId")
    source = {"Bucket": settings.lake_bucket, "Key": key, **({"VersionId": version} if version else {})}
    if keep:
        name = f"unlanded.{uuid.uuid4().hex[:12]}.{key.rsplit('/', 1)[-1]}"
        kept = series.quarantine_key_without_day(name) if day is None else series.on(day).quarantine_key(name)
        s3.copy(source, settings.lake_bucket, kept, ExtraArgs=_CHECKSUM, Config=_COPY)
    s3.delete_object(**source)

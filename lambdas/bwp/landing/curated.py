"""The curated layer: one typed Parquet object per landed (report type, day), made from the raw object.

The raw gzip CSV is read back from S3 as a stream, typed by the registry into record batches
(``bwp.landing.typed``, which holds the typing rules) and written by a ParquetWriter into a
multipart upload: memory stays flat whatever the report's size (a few row groups), and the object
appears only when the upload completes. Any failure aborts the upload.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from bwp import errors
from bwp.lake.schemas import ReportSchema
from bwp.landing.multipart import DEFAULT_PART_SIZE, MultipartUpload
from bwp.landing.typed import ByteSource, TypedBatches

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# zstd level 3: on report-like rows 3 % smaller than level 1 (9 % of the columns the
# reconciliation reads) for no measurable CPU time; Athena and DuckDB both read zstd Parquet.
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3
# Rows per row group: large enough for Athena to read few, long column chunks; small enough that
# the group being assembled (its record batches) stays a few tens of MiB.
ROW_GROUP_ROWS = 128 * 1024


@dataclass(frozen=True)
class CuratedResult:
    """What the manifest records about the curated object."""

    key: str
    rows: int
    rows_skipped: int  # records of the raw CSV that are not rows of the header's width
    bytes: int
    sha256: str
    row_groups: int
    extra_columns: tuple[str, ...]
    invalid_utf8_values: int  # values whose bytes were not UTF-8, mended with U+FFFD

    def to_manifest(self) -> dict:
        return {
            "key": self.key,
            "rows": self.rows,
            "rowsSkipped": self.rows_skipped,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "rowGroups": self.row_groups,
            "extraColumns": list(self.extra_columns),
            "invalidUtf8Values": self.invalid_utf8_values,
        }


@dataclass(frozen=True)
class _Converted:
    rows: int
    rows_skipped: int
    row_groups: int
    extra_columns: tuple[str, ...]
    invalid_utf8_values: int


def write_curated(
    *,
    s3,
    bucket: str,
    source_key: str,
    key: str,
    schema: ReportSchema,
    header: Sequence[str],
    raw_rows: int,
    part_size: int = DEFAULT_PART_SIZE,
) -> CuratedResult:
    """Convert the gzip CSV at ``source_key`` into Parquet at ``key``; the object appears only if all went well.

    Raises CuratedWriteFailed when the raw CSV cannot be read as the header says; S3's own errors
    pass as they are (the caller names the transient ones). On any error the upload is aborted.
    """
    upload = MultipartUpload(s3, bucket, key, part_size, content_type=PARQUET_CONTENT_TYPE)
    sink = _HashingSink(upload)
    try:
        body = s3.get_object(Bucket=bucket, Key=source_key)["Body"]
        with gzip.GzipFile(fileobj=body) as text:
            converted = convert(text, sink, schema, header)
        if converted.rows + converted.rows_skipped != raw_rows:
            raise errors.CuratedWriteFailed(
                f"{source_key}: the raw landing counted {raw_rows} rows, the CSV reader "
                f"{converted.rows} rows and {converted.rows_skipped} skipped"
            )
        upload.complete()
    except BaseException:
        upload.abort()
        raise
    return CuratedResult(
        key=key,
        rows=converted.rows,
        rows_skipped=converted.rows_skipped,
        bytes=sink.size,
        sha256=sink.sha256.hexdigest(),
        row_groups=converted.row_groups,
        extra_columns=converted.extra_columns,
        invalid_utf8_values=converted.invalid_utf8_values,
    )


def convert(source: ByteSource, sink, schema: ReportSchema, header: Sequence[str]) -> _Converted:
    """CSV text (a binary file-like, header line first) into Parquet on ``sink`` (a binary writable)."""
    typed = TypedBatches(source, schema, header)
    row_groups = write_parquet(typed, typed.arrow_schema, sink)
    return _Converted(
        rows=typed.rows,
        rows_skipped=typed.rows_skipped,
        row_groups=row_groups,
        extra_columns=typed.extra_columns,
        invalid_utf8_values=typed.invalid_utf8_values,
    )


def write_parquet(batches: Iterable[pa.RecordBatch], schema: pa.Schema, sink) -> int:
    """Record batches of ``schema`` as one Parquet file on ``sink``, in row groups of about
    ROW_GROUP_ROWS rows; the number of row groups (one, empty, for no batch at all)."""
    row_groups = 0
    with pq.ParquetWriter(
        sink, schema, compression=PARQUET_COMPRESSION, compression_level=PARQUET_COMPRESSION_LEVEL, **_encodings(schema)
    ) as writer:
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=pending_rows)
                row_groups += 1
                pending, pending_rows = [], 0
        if pending_rows or not row_groups:
            writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=max(pending_rows, 1))
            row_groups += 1
    return row_groups


def _encodings(target: pa.Schema) -> dict:
    """Per type, the encoding that stored report-like rows smallest (benchmarks/BENCHMARKS.md):
    text as DELTA_BYTE_ARRAY (ids share prefixes, and a dictionary of distinct ids only adds
    indexes), timestamps PLAIN (nearly all distinct), numbers in a dictionary (amounts repeat)."""
    text = [field.name for field in target if pa.types.is_string(field.type)]
    times = [field.name for field in target if pa.types.is_timestamp(field.type)]
    return {
        "use_dictionary": [field.name for field in target if field.name not in text and field.name not in times],
        "column_encoding": {**dict.fromkeys(text, "DELTA_BYTE_ARRAY"), **dict.fromkeys(times, "PLAIN")},
    }


class _HashingSink:
    """A binary writable that ParquetWriter can write to: counts, hashes and passes bytes to the upload."""

    def __init__(self, upload: MultipartUpload) -> None:
        self._upload = upload
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.sha256.update(data)
        self.size += len(data)
        self._upload.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

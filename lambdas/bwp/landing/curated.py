"""The curated layer: one typed Parquet object per landed (report type, day), made from the report's CSV.

The CSV text is typed by the registry into record batches (``bwp.landing.typed``, which holds the
typing rules) and written by a ParquetWriter into a multipart upload: memory stays flat whatever
the report's size (a few row groups), and the object appears only when the upload completes. Any
failure aborts the upload.

The land step hands the text over as it downloads it (``CuratedStream``): typing runs in a thread
of its own beside the raw landing's compression, and the report is read once. ``write_curated``
makes the same object from a raw object already in the bucket.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
# CSV text handed over and not yet typed: enough for the typing to read whole blocks while the
# landing goes on, few enough that memory stays flat.
HANDOVER_BYTES = 4 * 1024 * 1024
READ_BACK_BYTES = 1024 * 1024


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
    stream = CuratedStream(s3=s3, bucket=bucket, key=key, schema=schema, part_size=part_size)
    try:
        stream.header(header)
        body = s3.get_object(Bucket=bucket, Key=source_key)["Body"]
        with gzip.GzipFile(fileobj=body) as text:
            for chunk in iter(lambda: text.read(READ_BACK_BYTES), b""):
                stream.write(chunk)
        stream.end()
    except BaseException:
        stream.abort()
        raise
    return stream.finish(raw_rows, source=source_key)


class CuratedStream:
    """The curated object typed from CSV text as it is handed over (``header``, ``write`` and
    ``end``), by a thread of its own: the hander's thread (the landing's download and compression)
    goes on meanwhile. ``finish`` checks the row count and completes the object; ``abort`` drops it.

    A typing failure ends the thread and nothing else: the text still handed over is dropped, so
    that the raw landing completes (the day's report is kept, under quarantine/), and ``finish``
    raises it. The hand-over holds at most HANDOVER_BYTES."""

    def __init__(self, *, s3, bucket: str, key: str, schema: ReportSchema, part_size: int = DEFAULT_PART_SIZE) -> None:
        self._key = key
        self._upload = MultipartUpload(s3, bucket, key, part_size, content_type=PARQUET_CONTENT_TYPE)
        self._sink = _HashingSink(self._upload)
        self._text = _Handover(HANDOVER_BYTES)
        self._header: Future[Sequence[str]] = Future()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-curated")
        self._converted = self._thread.submit(self._convert, schema)

    def _convert(self, schema: ReportSchema) -> _Converted:
        try:
            return convert(self._text, self._sink, schema, self._header.result())
        finally:
            self._text.stop_reading()

    def header(self, columns: Sequence[str]) -> None:
        """The report's header, as the landing read it: the typing starts once it is known."""
        self._header.set_result(columns)

    def write(self, text: bytes) -> None:
        self._text.put(text)

    def end(self) -> None:
        self._text.put_end()

    def finish(self, raw_rows: int, *, source: str) -> CuratedResult:
        """Wait for the typing; complete the object if it holds every row the landing counted."""
        try:
            converted = self._converted.result()
            if converted.rows + converted.rows_skipped != raw_rows:
                raise errors.CuratedWriteFailed(
                    f"{source}: the raw landing counted {raw_rows} rows, the CSV reader "
                    f"{converted.rows} rows and {converted.rows_skipped} skipped"
                )
            self._upload.complete()
        except BaseException:
            self._upload.abort()
            raise
        finally:
            self._thread.shutdown()
        return CuratedResult(
            key=self._key,
            rows=converted.rows,
            rows_skipped=converted.rows_skipped,
            bytes=self._sink.size,
            sha256=self._sink.sha256.hexdigest(),
            row_groups=converted.row_groups,
            extra_columns=converted.extra_columns,
            invalid_utf8_values=converted.invalid_utf8_values,
        )

    def abort(self) -> None:
        """Stop the typing and drop the object (the landing failed)."""
        if not self._header.done():
            self._header.set_exception(_HandoverStopped())
        self._text.stop_writing()
        self._thread.shutdown(wait=True)
        self._upload.abort()


class _HandoverStopped(Exception):
    """The landing stopped handing text over: the typing ends."""


class _Handover(io.BufferedIOBase):
    """Text passed from one thread to another, read as a binary file; ``put`` waits while
    ``capacity`` bytes are waiting, and drops the text once the reader has stopped."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self._capacity = capacity
        self._chunks: deque[bytes] = deque()
        self._waiting = 0
        self._ended = self._reader_stopped = self._writer_stopped = False
        self._changed = threading.Condition()

    def readable(self) -> bool:
        return True

    def put(self, text: bytes) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._waiting < self._capacity or self._reader_stopped)
            if not self._reader_stopped and text:
                self._chunks.append(text)
                self._waiting += len(text)
                self._changed.notify_all()

    def put_end(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def stop_writing(self) -> None:
        with self._changed:
            self._writer_stopped = True
            self._changed.notify_all()

    def stop_reading(self) -> None:
        with self._changed:
            self._reader_stopped = True
            self._chunks.clear()
            self._waiting = 0
            self._changed.notify_all()

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes, fewer only at the end: the CSV reader wants its header line in its first
        block, whatever pieces the text came in."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(READ_BACK_BYTES), b""))
        pieces, wanted = [], size
        with self._changed:
            while wanted:
                self._changed.wait_for(
                    lambda: self._chunks or self._ended or self._writer_stopped or self._reader_stopped
                )
                if self._writer_stopped:
                    raise _HandoverStopped()
                if not self._chunks:
                    break
                text = self._chunks.popleft()
                if len(text) > wanted:
                    text, rest = text[:wanted], text[wanted:]
                    self._chunks.appendleft(rest)
                pieces.append(text)
                wanted -= len(text)
                self._waiting -= len(text)
                self._changed.notify_all()
        return b"".join(pieces)


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

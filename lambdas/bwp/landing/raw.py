"""Land one report download in S3: stream, gzip, multipart upload, inspect on the way.

The body flows through in bounded pieces (a download chunk, a part being filled, the parts
waiting for S3), so memory stays flat whatever the report's size. On the way the CSV text is
hashed, its rows counted and its header compared with the registry, and handed to whoever else
reads it (the curated file's typing), so the report is downloaded and read once. The object
appears only when the multipart upload completes; any failure aborts the upload, so a partition is
written whole or not at all.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import requests

from bwp.landing.download import Download, check_download_host
from bwp.landing.inspection import GZIP_WBITS, CsvInspector, Gunzip, compare_columns, peek_gzip
from bwp.landing.multipart import DEFAULT_PART_SIZE, MIN_PART_SIZE, MultipartUpload

# Level 1, measured (benchmarks/BENCHMARKS.md): on report-like CSV zlib level 1 compresses 2.7-3.8
# times as fast as level 6 and stores 16-19 % more; the whole landing runs at ≈160-180 MB/s at
# level 1 against ≈60 at level 6. Compression is the landing's bottleneck, and land_report has a
# fraction of a vCPU and 15 minutes: level 6 would shrink the largest report one invocation can
# land about threefold, to save a sixth of the storage and of the bytes Athena scans.
GZIP_LEVEL = 1


class TextReader(Protocol):
    """Another reader of the report's CSV text: given every piece of text in order (the header
    line included), the header's columns once its line has passed, and the end."""

    def header(self, columns: Sequence[str]) -> None: ...

    def write(self, text: bytes) -> None: ...

    def end(self) -> None: ...


@dataclass(frozen=True)
class LandingResult:
    """Everything the manifest needs to know about one landed download."""

    rows: int
    bytes_in: int  # size of the report as downloaded (bytes fetched again on a resume count once)
    bytes_out: int  # size of the stored object
    sha256: str  # of the CSV text, after gunzip when the download was gzip
    columns: tuple[str, ...]
    missing_columns: tuple[str, ...]
    unexpected_columns: tuple[str, ...]  # includes a repeated column name
    column_order_differs: bool
    source_gzip: bool
    link_refreshes: int
    resumes: int
    parts: int

    @property
    def drift(self) -> dict | None:
        """None when the header is exactly the expected columns, in order."""
        if not (self.missing_columns or self.unexpected_columns or self.column_order_differs):
            return None
        return {
            "missing": list(self.missing_columns),
            "unexpected": list(self.unexpected_columns),
            "orderDiffers": self.column_order_differs,
        }


def land_download(
    *,
    s3,
    bucket: str,
    key: str,
    download_link: Callable[[], str],
    session: requests.Session,
    timeout: tuple[float, float],
    allowed_hosts: Sequence[str],
    plain_http_on_loopback: bool = False,
    expected_columns: Sequence[str],
    part_size: int = DEFAULT_PART_SIZE,
    gzip_level: int = GZIP_LEVEL,
    also_to: TextReader | None = None,
) -> LandingResult:
    """Stream the report at ``download_link()`` into ``s3://bucket/key`` as gzip CSV; the object
    appears only if all went well. ``download_link`` is called once before the download and once
    for each refused link. ``also_to`` gets the CSV text too, as it passes (after gunzip, if the
    download was gzip); it is told the end only when the download ended well.

    Raises DownloadHostNotAllowed (before any download request), DownloadLinkExpired, DownloadInterrupted,
    EmptyReport or UnexpectedApiResponse; on any error no object is written and the multipart
    upload is aborted.
    """
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part_size {part_size} is below S3's minimum of {MIN_PART_SIZE}")
    url = download_link()
    check_download_host(url, allowed_hosts, plain_http_on_loopback=plain_http_on_loopback)
    download = Download(
        session, url, download_link, timeout, allowed_hosts, plain_http_on_loopback=plain_http_on_loopback
    )
    upload = MultipartUpload(s3, bucket, key, part_size)
    try:
        inspector = CsvInspector() if also_to is None else _HandingOn(also_to)
        source_gzip = _pump(download.chunks(), inspector, upload, gzip_level)
        columns, rows = inspector.finish()
        upload.complete()
    except BaseException:
        upload.abort()
        raise
    missing, unexpected, order_differs = compare_columns(columns, expected_columns)
    return LandingResult(
        rows=rows,
        bytes_in=download.offset,
        bytes_out=upload.bytes_out,
        sha256=inspector.sha256.hexdigest(),
        columns=columns,
        missing_columns=missing,
        unexpected_columns=unexpected,
        column_order_differs=order_differs,
        source_gzip=source_gzip,
        link_refreshes=download.refreshes,
        resumes=download.resumes,
        parts=upload.parts,
    )


class _HandingOn(CsvInspector):
    """The inspector, which hands the text on to another reader as well."""

    def __init__(self, reader: TextReader) -> None:
        super().__init__()
        self._reader = reader
        self._header_given = False

    def update(self, text: bytes) -> None:
        super().update(text)
        # The header first: the reader may wait for it before it takes any text.
        self._give_header_once(ready=self.header_read)
        self._reader.write(text)

    def finish(self) -> tuple[tuple[str, ...], int]:
        finished = super().finish()
        self._give_header_once(ready=True)
        self._reader.end()
        return finished

    def _give_header_once(self, *, ready: bool) -> None:
        if ready and not self._header_given:
            self._reader.header(self.columns())
            self._header_given = True


def _pump(chunks: Iterator[bytes], inspector: CsvInspector, upload: MultipartUpload, level: int) -> bool:
    """Feed the CSV text to the inspector and the gzip bytes to the upload; True if the source was gzip."""
    source_gzip, body = peek_gzip(chunks)
    if source_gzip:
        # Already gzip: stored exactly as served, inflated on the side only to be inspected.
        gunzip = Gunzip()
        for chunk in body:
            upload.write(chunk)
            for text in gunzip.inflate(chunk):
                inspector.update(text)
        gunzip.finish()
        return True
    # zlib and hashlib release the GIL: compressing a chunk in a second thread overlaps with
    # hashing and counting it and reading the next one.
    compressor = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-gzip") as gzip_thread:
        compressed: Future | None = None
        for chunk in body:
            following = gzip_thread.submit(compressor.compress, chunk)
            inspector.update(chunk)
            if compressed is not None:
                upload.write(compressed.result())
            compressed = following
        if compressed is not None:
            upload.write(compressed.result())
    upload.write(compressor.flush())
    return False

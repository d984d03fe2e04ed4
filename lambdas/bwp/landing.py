"""Land one report download in S3: stream, gzip, multipart upload, inspect on the way.

The body flows through in bounded pieces (a download chunk, a part being filled, at most
``MAX_PARTS_IN_FLIGHT`` parts waiting for S3), so memory stays flat whatever the report's size.
On the way the CSV text is hashed, its rows counted and its header compared with the registry.
The object appears only when the multipart upload completes; any failure aborts the upload, so a
partition is written whole or not at all.

The link comes from the caller's ``download_link``, asked again for a fresh one when a link is
refused (expired), and a broken connection is resumed with an HTTP ``Range`` request from the
last byte passed on; both are bounded, and every request has the caller's (connect, read) timeout.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import itertools
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from bwp import errors
from bwp.observability import logger
from bwp.redaction import redact_query_strings

GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31  # zlib's way of saying "gzip container" (16 + the 32 KiB window)

# Level 1, measured (benchmarks/BENCHMARKS.md): on report-like CSV zlib level 1 compresses 2.7-3.8
# times as fast as level 6 and stores 16-19 % more; the whole landing runs at ≈160-180 MB/s at
# level 1 against ≈60 at level 6. Compression is the landing's bottleneck, and land_report has a
# fraction of a vCPU and 15 minutes: level 6 would shrink the largest report one invocation can
# land about threefold, to save a sixth of the storage and of the bytes Athena scans.
GZIP_LEVEL = 1

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts, except the last one
# One part uploading while the next waits and a third fills: uploads overlap the download.
MAX_PARTS_IN_FLIGHT = 2
# A gzip download is inflated (to inspect it) in pieces of at most this size: a small body
# that inflates hugely cannot blow up the memory.
MAX_INFLATE_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024

MAX_LINK_REFRESHES = 3
MAX_RESUMES = 5
MAX_REDIRECTS = 3
# S3's SlowDown (503) and a 429 ask the client to slow down: resuming at once would spend the
# resume budget in milliseconds, and failing to the state machine's backoff would lose the bytes
# already landed. A few seconds, at most, in all: 0.5 + 1 + 2 + 4 + 4.
BUSY_BACKOFF_SECONDS = 0.5
MAX_BUSY_BACKOFF_SECONDS = 4.0


class _ServerBusy(Exception):
    """A 5xx or 429 answer: worth another try, like a broken connection."""


# What a broken or stalled connection looks like, from requests' call or from reading the body.
_BROKEN_CONNECTION = (
    _ServerBusy,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


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


def check_download_host(url: str, allowed_hosts: Sequence[str]) -> None:
    """Refuse a URL whose host is not allowed; ``*.suffix`` allows every host under ``suffix``.

    A wildcard does not allow the bare suffix: ``*.amazonaws.com`` allows
    ``bucket.s3.amazonaws.com``, not ``amazonaws.com`` nor ``evilamazonaws.com``.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    # User info and backslashes are how a URL makes two parsers disagree on its host.
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc or "\\" in url:
        raise errors.DownloadHostNotAllowed(f"download URL refused: not a plain http(s) URL (host {host!r})")
    for pattern in allowed_hosts:
        pattern = pattern.strip().lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return
        elif host == pattern:
            return
    raise errors.DownloadHostNotAllowed(
        f"download host {host!r} is not in the allowlist ({', '.join(allowed_hosts) or 'empty'})"
    )


def land_download(
    *,
    s3,
    bucket: str,
    key: str,
    download_link: Callable[[], str],
    session: requests.Session,
    timeout: tuple[float, float],
    allowed_hosts: Sequence[str],
    expected_columns: Sequence[str],
    part_size: int = DEFAULT_PART_SIZE,
    gzip_level: int = GZIP_LEVEL,
) -> LandingResult:
    """Stream the report at ``download_link()`` into ``s3://bucket/key`` as gzip CSV; the object
    appears only if all went well. ``download_link`` is called once before the download and once
    for each refused link.

    Raises DownloadHostNotAllowed (before any download request), DownloadLinkExpired, DownloadInterrupted,
    EmptyReport or UnexpectedApiResponse; on any error no object is written and the multipart
    upload is aborted.
    """
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part_size {part_size} is below S3's minimum of {MIN_PART_SIZE}")
    url = download_link()
    check_download_host(url, allowed_hosts)
    download = _Download(session, url, download_link, timeout, allowed_hosts)
    upload = MultipartUpload(s3, bucket, key, part_size)
    try:
        inspector = _CsvInspector()
        source_gzip = _pump(download.chunks(), inspector, upload, gzip_level)
        columns, rows = inspector.finish()
        upload.complete()
    except BaseException:
        upload.abort()
        raise
    missing, unexpected, order_differs = _compare_columns(columns, expected_columns)
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


def _pump(chunks: Iterator[bytes], inspector: _CsvInspector, upload: MultipartUpload, level: int) -> bool:
    """Feed the CSV text to the inspector and the gzip bytes to the upload; True if the source was gzip."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(GZIP_MAGIC):
            break
    body = itertools.chain((head,), chunks)
    if head.startswith(GZIP_MAGIC):
        # Already gzip: stored exactly as served, inflated on the side only to be inspected.
        gunzip = _Gunzip()
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


class _Download:
    """The report's bytes, in order, across as many requests as refused links and broken connections take."""

    def __init__(self, session, url, download_link, timeout, allowed_hosts) -> None:
        self._session, self._url, self._download_link = session, url, download_link
        self._timeout, self._allowed_hosts = timeout, allowed_hosts
        self.offset = 0
        self.refreshes = 0
        self.resumes = 0
        self._size: int | None = None  # total size, once a response has told it
        self._etag: str | None = None

    @property
    def _host(self) -> str:
        return urlsplit(self._url).hostname or ""

    def chunks(self) -> Iterator[bytes]:
        while True:
            try:
                response = self._open()
                if response is not None:
                    with response:
                        yield from self._body(response)
                    return
            except _BROKEN_CONNECTION as error:
                self._resume_after(error)
                continue
            self._refresh()

    def _open(self) -> requests.Response | None:
        """A response positioned at ``offset``, or None when the link was refused as expired."""
        # identity: the bytes are counted and resumed as they travel, so nobody may re-encode them.
        headers = {"Accept-Encoding": "identity"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        url = self._url
        for _ in range(MAX_REDIRECTS + 1):
            response = self._session.get(
                url, headers=headers, stream=True, timeout=self._timeout, allow_redirects=False
            )
            if not response.is_redirect:
                break
            response.close()
            # requests would follow a redirect anywhere; each hop has to pass the allowlist.
            url = urljoin(url, response.headers["Location"])
            check_download_host(url, self._allowed_hosts)
        else:
            raise errors.UnexpectedApiResponse(f"download from {self._host} redirected more than {MAX_REDIRECTS} times")
        if response.status_code in (200, 206):
            try:
                self._check_same_report(response)
            except errors.BwpError:
                response.close()
                raise
            return response
        with response:
            body = response.raw.read(MAX_ERROR_BODY_BYTES, decode_content=True) or b""
        status = response.status_code
        # S3 refuses an expired presigned URL with 403 AccessDenied; some signers answer 400/401
        # with the same XML error document.
        if status == 403 or (status in (400, 401) and b"<Error>" in body):
            logger.warning("download link refused", extra={"host": self._host, "status": status})
            return None
        if status >= 500 or status == 429:
            raise _ServerBusy(f"HTTP {status} from {self._host}")
        raise errors.UnexpectedApiResponse(f"download from {self._host} answered HTTP {status}: {_error_summary(body)}")

    def _check_same_report(self, response: requests.Response) -> None:
        """Resumed bytes must continue the same report, from the offset asked for."""
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if not match or int(match[1]) != self.offset:
                raise errors.UnexpectedApiResponse(
                    f"asked {self._host} for bytes from {self.offset}, got Content-Range "
                    f"{response.headers.get('Content-Range')!r}"
                )
            size = None if match[2] == "*" else int(match[2])
        else:
            length = response.headers.get("Content-Length")
            size = int(length) if length is not None and length.isdigit() else None
        etag = response.headers.get("ETag")
        changed = (size is not None and self._size is not None and size != self._size) or (
            etag is not None and self._etag is not None and etag != self._etag
        )
        if changed:
            # Splicing two versions of a report would land a corrupt partition: start over.
            raise errors.DownloadInterrupted(
                f"the report at {self._host} changed during the download (size {self._size} -> {size}, "
                f"ETag {self._etag} -> {etag}); re-run the window"
            )
        self._size = size if size is not None else self._size
        self._etag = etag or self._etag

    def _body(self, response: requests.Response) -> Iterator[bytes]:
        # A server that ignores Range sends the whole report again: skip what we already have.
        skip = self.offset if response.status_code == 200 else 0
        # Whole chunks, even from TLS's 16 KiB records, keep the per-chunk overhead low; a stall
        # loses at most the chunk being read, which the resume fetches again.
        for chunk in response.raw.stream(DOWNLOAD_CHUNK_BYTES, decode_content=False):
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
                if not chunk:
                    continue
            self.offset += len(chunk)
            yield chunk
        if self._size is not None and self.offset < self._size:
            raise http.client.IncompleteRead(b"", self._size - self.offset)

    def _refresh(self) -> None:
        if self.refreshes >= MAX_LINK_REFRESHES:
            raise errors.DownloadLinkExpired(
                f"download link for {self._host} refused {self.refreshes + 1} times, "
                f"even after {self.refreshes} fresh links"
            )
        self.refreshes += 1
        url = self._download_link()
        check_download_host(url, self._allowed_hosts)
        self._url = url

    def _resume_after(self, error: BaseException) -> None:
        if self.resumes >= MAX_RESUMES:
            raise errors.DownloadInterrupted(
                f"download from {self._host} broke {self.resumes + 1} times (at byte {self.offset}); "
                f"last: {type(error).__name__}: {redact_query_strings(str(error))}"
            ) from error
        self.resumes += 1
        logger.warning(
            "download broke; resuming",
            extra={"host": self._host, "offset": self.offset, "error": type(error).__name__},
        )
        if isinstance(error, _ServerBusy):
            time.sleep(min(BUSY_BACKOFF_SECONDS * 2 ** (self.resumes - 1), MAX_BUSY_BACKOFF_SECONDS))


class _Gunzip:
    """Inflates a gzip stream (one or more members) in bounded pieces."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(GZIP_WBITS)

    def inflate(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                if self._inflater.eof and data:
                    # Concatenated members are one valid gzip stream.
                    self._inflater = zlib.decompressobj(GZIP_WBITS)
                text = self._inflater.decompress(data, MAX_INFLATE_BYTES)
                if text:
                    yield text
                if self._inflater.eof:
                    data = self._inflater.unused_data
                    if not data:
                        return
                else:
                    data = self._inflater.unconsumed_tail
                    # A full piece may leave output inside zlib even with no input left.
                    if not data and len(text) < MAX_INFLATE_BYTES:
                        return
        except zlib.error as error:
            raise errors.UnexpectedApiResponse(f"the download starts as gzip but is not valid gzip: {error}") from None

    def finish(self) -> None:
        if not self._inflater.eof:
            raise errors.UnexpectedApiResponse("the download starts as gzip but its gzip stream is truncated")


class _CsvInspector:
    """SHA-256, record count and header of CSV text fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self._size = 0
        self._line_ends = 0  # newlines outside quoted fields
        self._in_quotes = False
        self._last_byte = b""
        self._header = bytearray()

    def update(self, text: bytes) -> None:
        if not text:
            return
        self.sha256.update(text)
        self._size += len(text)
        if not self._line_ends and len(self._header) < MAX_HEADER_BYTES:
            self._header += text[: MAX_HEADER_BYTES - len(self._header)]
        # Quote parity: a newline ends a record only outside quotes. Splitting on '"' alternates
        # outside/inside segments; an escaped quote ("") is an empty segment and changes nothing.
        # Several times faster than csv.reader, and exact for RFC 4180 CSV.
        if not self._in_quotes and b'"' not in text:
            self._line_ends += text.count(b"\n")
        else:
            segments = text.split(b'"')
            inside = segments[0::2] if self._in_quotes else segments[1::2]
            self._line_ends += text.count(b"\n") - b"".join(inside).count(b"\n")
            if len(segments) % 2 == 0:
                self._in_quotes = not self._in_quotes
        self._last_byte = text[-1:]

    def finish(self) -> tuple[tuple[str, ...], int]:
        """(header columns, data rows); a blank line counts as a row, as a text table reads it."""
        header = next(csv.reader(io.StringIO(self._header.decode("utf-8-sig", errors="replace"))), [])
        if not header:
            raise errors.EmptyReport(f"the download has no header line ({self._size} bytes of CSV)")
        records = self._line_ends + (self._last_byte != b"\n")
        return tuple(header), records - 1


class MultipartUpload:
    """Parts of at least ``part_size`` bytes, uploaded by one background thread while the next fills."""

    def __init__(self, s3, bucket: str, key: str, part_size: int, content_type: str = "application/gzip") -> None:
        self._s3, self._bucket, self._key, self._part_size = s3, bucket, key, part_size
        # application/gzip and no Content-Encoding: with Content-Encoding: gzip, HTTP clients
        # (browsers, some SDKs) would silently inflate the object on download, and the bytes would
        # no longer match bytesOut. Athena recognises gzip by the .csv.gz suffix, not by headers.
        # CRC32 per part lets S3 check each part's bytes end to end, as boto3's transfer manager does.
        self._upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, ChecksumAlgorithm="CRC32"
        )["UploadId"]
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="landing-upload")
        self._in_flight: deque[Future] = deque()
        self._done: list[dict] = []
        self._buffer = bytearray()
        self.parts = 0
        self.bytes_out = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.bytes_out += len(data)
        if len(self._buffer) >= self._part_size:
            self._send()

    def _send(self) -> None:
        # A failed part stops the landing at the next part, not at the end.
        while self._in_flight and (self._in_flight[0].done() or len(self._in_flight) >= MAX_PARTS_IN_FLIGHT):
            self._done.append(self._in_flight.popleft().result())
        self.parts += 1
        self._in_flight.append(self._pool.submit(self._upload_part, self.parts, bytes(self._buffer)))
        self._buffer.clear()

    def _upload_part(self, number: int, body: bytes) -> dict:
        answer = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}

    def complete(self) -> None:
        if self._buffer:
            self._send()
        self._done.extend(future.result() for future in self._in_flight)
        self._in_flight.clear()
        self._pool.shutdown()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._done},
        )

    def abort(self) -> None:
        for future in self._in_flight:
            future.cancel()
        self._pool.shutdown(wait=True)
        try:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
        except Exception:
            # The original error matters more; the bucket's lifecycle rule removes the parts later.
            logger.exception("could not abort the multipart upload", extra={"key": self._key})


def _error_summary(body: bytes) -> str:
    """S3's error code if the body is an S3 error (S3 may echo the signed request), else its start."""
    code = re.search(rb"<Code>([^<]{1,100})</Code>", body)
    return code[1].decode("utf-8", "replace") if code else redact_query_strings(body[:200].decode("utf-8", "replace"))


def _compare_columns(columns: Sequence[str], expected: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(missing, unexpected, order differs) of a header against the expected columns."""
    missing = tuple(name for name in expected if name not in columns)
    unexpected = tuple(name for index, name in enumerate(columns) if name not in expected or name in columns[:index])
    seen = list(dict.fromkeys(name for name in columns if name in expected))
    return missing, unexpected, seen != [name for name in expected if name in columns]

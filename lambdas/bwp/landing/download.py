"""A report download as one stream of bytes, however many requests it takes.

The link comes from the caller's ``download_link``, asked again for a fresh one when a link is
refused (expired), and a broken connection is resumed with an HTTP ``Range`` request from the
last byte passed on; both are bounded, and every request has the caller's (connect, read) timeout.
Every host the download reaches, first link, fresh link or redirect, must pass the allowlist.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import time
from collections.abc import Callable, Iterator, Sequence
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from bwp import errors
from bwp.observability import logger
from bwp.redaction import excerpt, redact

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
MAX_ERROR_BODY_BYTES = 64 * 1024

MAX_LINK_REFRESHES = 3
MAX_RESUMES = 5
MAX_REDIRECTS = 3
# S3's SlowDown (503) and a 429 ask the client to slow down: resuming at once would spend the
# resume budget in milliseconds, and failing to the state machine's backoff would lose the bytes
# already landed. A few seconds, at most, in all: 0.5 + 1 + 2 + 4 + 4.
BUSY_BACKOFF_SECONDS = 0.5
MAX_BUSY_BACKOFF_SECONDS = 4.0


class _LinkRefused(Exception):
    """The link was refused as expired: worth a fresh link, from the byte already reached."""


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


def check_download_host(url: str, allowed_hosts: Sequence[str], *, plain_http_on_loopback: bool = False) -> None:
    """Refuse a URL whose host is not allowed; ``*.suffix`` allows every host under ``suffix``.

    A wildcard does not allow the bare suffix: ``*.amazonaws.com`` allows
    ``bucket.s3.amazonaws.com``, not ``amazonaws.com`` nor ``evilamazonaws.com``. The link must
    be https: over plain http its signature can be read and the report altered on the way.
    ``plain_http_on_loopback`` lets a loopback host (the local twin) be reached over http.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises on a port that is not one
    except ValueError as error:
        # A URL one parser refuses is one another may read differently: never fetched.
        raise errors.DownloadHostNotAllowed(f"download URL refused: it cannot be parsed ({error})") from None
    # User info and backslashes are how a URL makes two parsers disagree on its host.
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc or "\\" in url:
        raise errors.DownloadHostNotAllowed(f"download URL refused: not a plain http(s) URL (host {host!r})")
    if parts.scheme == "http" and not (plain_http_on_loopback and _is_loopback(host)):
        raise errors.DownloadHostNotAllowed(
            f"download URL refused: plain http to {host!r}; a report is downloaded over https only"
        )
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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Download:
    """The report's bytes, in order, across as many requests as refused links and broken connections take.

    ``url`` is the first link, already checked against ``allowed_hosts``; ``download_link`` gives
    a fresh one. ``offset``, ``refreshes`` and ``resumes`` tell how it went.
    """

    def __init__(
        self,
        session: requests.Session,
        url: str,
        download_link: Callable[[], str],
        timeout: tuple[float, float],
        allowed_hosts: Sequence[str],
        *,
        plain_http_on_loopback: bool = False,
    ) -> None:
        self._session, self._url, self._download_link = session, url, download_link
        self._timeout, self._allowed_hosts = timeout, allowed_hosts
        self._plain_http_on_loopback = plain_http_on_loopback
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
                with self._open() as response:
                    yield from self._body(response)
                return
            except _LinkRefused:
                self._refresh()
            except _BROKEN_CONNECTION as error:
                self._resume_after(error)

    def _open(self) -> requests.Response:
        """A response positioned at ``offset``; raises _LinkRefused when the link was refused as expired."""
        # identity: the bytes are counted and resumed as they travel, so nobody may re-encode them.
        headers = {"Accept-Encoding": "identity"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        url = self._url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self._session.get(
                    url, headers=headers, stream=True, timeout=self._timeout, allow_redirects=False
                )
            except ValueError as error:
                # requests parses a redirect's Location even when it does not follow it.
                raise errors.DownloadHostNotAllowed(
                    f"download from {self._host} redirected to a URL that cannot be parsed ({error})"
                ) from None
            if not response.is_redirect:
                break
            response.close()
            # requests would follow a redirect anywhere; each hop has to pass the allowlist.
            url = urljoin(url, response.headers["Location"])
            self._check_host(url)
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
            raise _LinkRefused(f"HTTP {status} from {self._host}")
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
        self._check_host(url)
        self._url = url

    def _check_host(self, url: str) -> None:
        check_download_host(url, self._allowed_hosts, plain_http_on_loopback=self._plain_http_on_loopback)

    def _resume_after(self, error: BaseException) -> None:
        if self.resumes >= MAX_RESUMES:
            raise errors.DownloadInterrupted(
                f"download from {self._host} broke {self.resumes + 1} times (at byte {self.offset}); "
                f"last: {type(error).__name__}: {redact(str(error))}"
            ) from error
        self.resumes += 1
        logger.warning(
            "download broke; resuming",
            extra={"host": self._host, "offset": self.offset, "error": type(error).__name__},
        )
        if isinstance(error, _ServerBusy):
            time.sleep(min(BUSY_BACKOFF_SECONDS * 2 ** (self.resumes - 1), MAX_BUSY_BACKOFF_SECONDS))


def _error_summary(body: bytes) -> str:
    """S3's error code if the body is an S3 error (S3 may echo the signed request), else its start."""
    code = re.search(rb"<Code>([^<]{1,100})</Code>", body)
    return code[1].decode("utf-8", "replace") if code else excerpt(body.decode("utf-8", "replace"))

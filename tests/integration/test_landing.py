"""Landing a download in S3: byte-exact, inspected on the way, whole or not at all.

A loopback HTTP server (tests/integration/download_server.py) plays the presigned download URL,
with switchable misbehaviour; moto plays S3.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import random
import socket
import string
from collections.abc import Iterator
from datetime import date

import pytest
import requests
from bwp import errors
from bwp.lake.partition import Partition
from bwp.lake.stores import DEFAULT_STORE_ID
from bwp.landing import download, multipart, raw
from bwp.landing.raw import land_download

from tests.integration.download_server import S3_EXPIRED, ReportServer, serving

BUCKET = "lake"
KEY = Partition(DEFAULT_STORE_ID, "ORDER_FEES", date(2024, 8, 22)).raw_key
COLUMNS = ("orderId", "feeType", "feeAmount", "note")


@pytest.fixture
def server() -> Iterator[ReportServer]:
    with serving() as report:
        yield report


class Links:
    """The caller's download_link: ``first`` (token 1 by default), then a new token (2, 3, ...) on ``host``."""

    def __init__(self, server: ReportServer, host: str = "127.0.0.1", first: str | None = None) -> None:
        self.server, self.host, self.first, self.issued = server, host, first or server.url(), 0

    def __call__(self) -> str:
        self.issued += 1
        return self.first if self.issued == 1 else self.server.url(str(self.issued), host=self.host)


def land(server: ReportServer, s3, **overrides) -> raw.LandingResult:
    arguments = {
        "s3": s3,
        "bucket": BUCKET,
        "key": KEY,
        "download_link": Links(server),
        "session": requests.Session(),
        "timeout": (2.0, 2.0),
        "allowed_hosts": ("127.0.0.1",),
        "plain_http_on_loopback": True,  # the test server has no TLS
        "expected_columns": COLUMNS,
    }
    return land_download(**(arguments | overrides))


def stored(s3) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()


def assert_nothing_landed(s3) -> None:
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


# --- reports -------------------------------------------------------------------------------
def report_csv(rows: list[list[str]], *, header=COLUMNS, line_end="\r\n", bom=False, trailing=True) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=line_end).writerows([list(header), *rows])
    text = out.getvalue() if trailing else out.getvalue().removesuffix(line_end)
    return ("\ufeff" if bom else "").encode() + text.encode()


def nasty_rows(seed: int, count: int) -> list[list[str]]:
    """Fields with commas, quotes, line breaks (LF, CRLF) and non-ASCII text."""
    rng = random.Random(seed)
    alphabet = [*string.ascii_letters, ",", '"', "\n", "\r\n", " ", "é", "€"]
    return [
        [
            f"322-{i:06d}",
            rng.choice(["PrimeServiceFee", "Apay,Fee"]),
            f"{rng.random() * 100:.2f}",
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30))),
        ]
        for i in range(count)
    ]


def rows_in(body: bytes) -> int:
    """The oracle: what csv.reader counts after the header."""
    return len(list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))) - 1


@pytest.fixture(scope="module")
def big_report() -> bytes:
    """~12 MiB of nearly incompressible rows: its gzip is more than two S3 parts of 5 MiB."""
    rng = random.Random(7)
    rows = (f'{i},PrimeServiceFee,1.23,"{base64.b64encode(rng.randbytes(60)).decode()}"\n' for i in range(120_000))
    return ",".join(COLUMNS).encode() + b"\n" + "".join(rows).encode()


# --- the round trip ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(report_csv(nasty_rows(1, 50)), id="crlf-quoted-multiline"),
        pytest.param(report_csv(nasty_rows(2, 50), line_end="\n", bom=True), id="lf-bom"),
        pytest.param(report_csv(nasty_rows(3, 50), trailing=False), id="no-trailing-newline"),
        pytest.param(report_csv([]), id="header-only"),
        pytest.param(report_csv([], trailing=False), id="header-only-no-newline"),
    ],
)
@pytest.mark.parametrize("chunk", [0, 7], ids=["content-length", "chunked-7-bytes"])
def test_csv_lands_byte_exact_as_gzip_with_rows_hash_and_sizes(server, s3, body, chunk):
    # given a CSV report, sent whole or in 7-byte pieces that split quotes, CRLFs and the BOM
    server.bodies, server.chunk = [body], chunk
    # when it lands
    result = land(server, s3)
    # then the object inflates to exactly the served bytes, and the counts describe them
    obj = s3.get_object(Bucket=BUCKET, Key=KEY)
    data = obj["Body"].read()
    assert gzip.decompress(data) == body
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert result.rows == rows_in(body)
    assert (result.bytes_in, result.bytes_out) == (len(body), len(data))
    assert result.columns == COLUMNS and result.drift is None
    assert not result.source_gzip and (result.link_refreshes, result.resumes, result.parts) == (0, 0, 1)
    # stored as a gzip file, not as a gzip-encoded CSV that clients would inflate on the fly
    assert obj["ContentType"] == "application/gzip" and "ContentEncoding" not in obj


@pytest.mark.parametrize("seed", range(5))
def test_row_count_matches_a_csv_parser_on_random_quoting(server, s3, seed):
    # given random rows full of quotes, commas and line breaks, sent in odd-sized pieces
    body = report_csv(nasty_rows(seed, 300), line_end=random.Random(seed).choice(["\n", "\r\n"]))
    server.bodies, server.chunk = [body], 13
    # when it lands, then the quote-parity count agrees with csv.reader
    assert land(server, s3).rows == rows_in(body)


@pytest.mark.parametrize(
    ("members", "piece"),
    [(1, 101), (2, 101), (2, None)],
    ids=["one-member", "two-members", "two-members-split-at-the-member-boundary"],
)
def test_gzip_download_is_stored_as_served_and_inspected_inflated(server, s3, members, piece):
    # given a report already gzip (possibly as concatenated members), sent in small pieces
    text = report_csv(nasty_rows(4, 200), bom=True)
    half = len(text) // 2
    first, second = gzip.compress(text[:half]), gzip.compress(text[half:])
    served = gzip.compress(text) if members == 1 else first + second
    server.bodies, server.chunk = [served], piece or len(first)
    # when it lands
    result = land(server, s3)
    # then the stored bytes are the served bytes, and the inspection saw the CSV inside
    assert stored(s3) == served
    assert result.source_gzip
    assert (result.bytes_in, result.bytes_out) == (len(served), len(served))
    assert result.sha256 == hashlib.sha256(text).hexdigest()
    assert result.rows == rows_in(text) and result.columns == COLUMNS


def test_large_report_lands_in_several_parts(server, s3, big_report):
    # given a report whose gzip is over two minimum-size parts
    server.bodies = [big_report]
    # when it lands with the smallest part size S3 accepts
    result = land(server, s3, part_size=multipart.MIN_PART_SIZE)
    # then it is one object made of several parts, byte exact
    assert result.parts >= 2
    assert gzip.decompress(stored(s3)) == big_report
    assert result.rows == big_report.count(b"\n") - 1


def test_part_size_below_s3_minimum_is_refused_before_any_request(server, s3):
    with pytest.raises(ValueError, match="minimum"):
        land(server, s3, part_size=multipart.MIN_PART_SIZE - 1)
    assert server.requests == []


# --- header drift --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "missing", "unexpected", "order_differs"),
    [
        (("orderId", "feeKind", "feeAmount", "note"), ["feeType"], ["feeKind"], False),
        (("orderId", "feeAmount", "feeType", "note"), [], [], True),
        (("orderId", "feeType", "feeAmount"), ["note"], [], False),
        (("orderId", "feeType", "feeAmount", "note", "orderId"), [], ["orderId"], False),
    ],
    ids=["renamed", "reordered", "missing", "repeated"],
)
def test_header_drift_still_lands_and_is_reported(server, s3, header, missing, unexpected, order_differs):
    # given a report whose header differs from the expected columns
    body = report_csv([["a", "b", "c", "d"]], header=header)
    server.bodies = [body]
    # when it lands
    result = land(server, s3)
    # then the data is there and the drift says how the header differs
    assert gzip.decompress(stored(s3)) == body
    assert result.columns == header
    assert result.drift == {"missing": missing, "unexpected": unexpected, "orderDiffers": order_differs}


# --- the allowlist -------------------------------------------------------------------------
def test_host_not_allowed_is_refused_before_anything_is_fetched_or_written(server, s3):
    # given a URL whose host is not on the allowlist
    with pytest.raises(errors.DownloadHostNotAllowed, match="'localhost'"):
        # when landing it
        land(server, s3, download_link=Links(server, first=server.url(host="localhost")))
    # then the server saw no request and the bucket is untouched
    assert server.requests == []
    assert_nothing_landed(s3)


def test_redirect_to_a_host_not_allowed_is_not_followed(server, s3):
    # given an allowed URL that redirects to a host outside the allowlist
    server.redirect_to = server.url(host="localhost", path="/elsewhere")
    with pytest.raises(errors.DownloadHostNotAllowed, match="'localhost'"):
        land(server, s3, download_link=Links(server, first=server.url(path="/redirect")))
    # then the redirect target was never requested
    assert [path for path, _, _ in server.requests] == ["/redirect"]
    assert_nothing_landed(s3)


def test_refreshed_link_to_a_host_not_allowed_is_refused(server, s3):
    server.bodies, server.serves_left = [report_csv([])], {"1": 0}
    with pytest.raises(errors.DownloadHostNotAllowed):
        land(server, s3, download_link=Links(server, host="localhost"))
    assert [token for _, token, _ in server.requests] == ["1"]
    assert_nothing_landed(s3)


# --- expired links -------------------------------------------------------------------------
def test_link_expiring_mid_download_is_refreshed_and_resumed_from_the_received_byte(server, s3):
    # given a download cut after 1000 bytes, whose link is refused from then on
    body = report_csv(nasty_rows(5, 500))
    server.bodies, server.cuts, server.serves_left = [body], [1000], {"1": 1}
    # when it lands
    result = land(server, s3)
    # then a fresh link continued from byte 1000 and the object is still byte exact
    assert server.requests[1:] == [("/report.csv", "1", "bytes=1000-"), ("/report.csv", "2", "bytes=1000-")]
    assert (result.link_refreshes, result.resumes) == (1, 1)
    assert gzip.decompress(stored(s3)) == body
    assert result.sha256 == hashlib.sha256(body).hexdigest() and result.bytes_in == len(body)


@pytest.mark.parametrize(
    "refusal",
    [(403, S3_EXPIRED), (403, b""), (400, S3_EXPIRED), (401, S3_EXPIRED)],
    ids=["403-xml", "403-empty", "400-xml", "401-xml"],
)
def test_refused_link_is_refreshed(server, s3, refusal):
    body = report_csv(nasty_rows(6, 20))
    server.bodies, server.serves_left, server.refusal = [body], {"1": 0}, refusal
    result = land(server, s3)
    assert result.link_refreshes == 1
    assert gzip.decompress(stored(s3)) == body


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        ((400, b"bad request"), "HTTP 400: bad request"),
        (
            (404, b"<Error><Code>NoSuchKey</Code><CanonicalRequest>X-Amz-Signature=secret</CanonicalRequest>"),
            "HTTP 404: NoSuchKey$",
        ),
    ],
    ids=["400-not-s3", "404-s3"],
)
def test_other_refusals_are_not_taken_for_expiry(server, s3, refusal, said):
    # given a link answered with an error that is not an expired link
    server.bodies, server.serves_left, server.refusal = [report_csv([])], {"1": 0}, refusal
    # when landing, then it fails at once, saying what the server said (but not what it echoed)
    with pytest.raises(errors.UnexpectedApiResponse, match=said):
        land(server, s3)
    assert len(server.requests) == 1
    assert_nothing_landed(s3)


def test_link_refused_after_every_refresh_raises_link_expired_and_lands_nothing(server, s3):
    # given every link refused
    server.bodies = [report_csv([])]
    server.serves_left = {str(token): 0 for token in range(1, download.MAX_LINK_REFRESHES + 3)}
    links = Links(server)
    # when landing, then it gives up after the refresh budget
    with pytest.raises(errors.DownloadLinkExpired):
        land(server, s3, download_link=links)
    assert links.issued - 1 == download.MAX_LINK_REFRESHES
    assert_nothing_landed(s3)


# --- broken connections --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "resumed_from"),
    [
        ({"cuts": [3000]}, "bytes=3000-"),
        ({"cuts": [3000], "chunk": 500}, "bytes=3000-"),
        ({"busy": 1}, None),
    ],
    ids=["short-body", "chunked-cut", "503"],
)
def test_broken_download_is_resumed_with_range(server, s3, fault, resumed_from, monkeypatch):
    # given a download that breaks once
    body = report_csv(nasty_rows(8, 500))
    server.bodies = [body]
    for name, value in fault.items():
        setattr(server, name, value)
    pauses: list[float] = []
    real_sleep = download.time.sleep
    # the time module is shared: other threads' yields (sleep(0)) pass through untouched
    monkeypatch.setattr(download.time, "sleep", lambda seconds: pauses.append(seconds) if seconds else real_sleep(0))
    # when it lands
    result = land(server, s3)
    # then it went on from the byte it had (after a pause only if the server asked to slow down)
    assert server.requests[-1][2] == resumed_from
    assert pauses == ([download.BUSY_BACKOFF_SECONDS] if "busy" in fault else [])
    assert (result.resumes, result.link_refreshes) == (1, 0)
    assert gzip.decompress(stored(s3)) == body
    assert (result.bytes_in, result.rows) == (len(body), rows_in(body))


def test_stalled_download_times_out_and_resumes_after_the_last_whole_chunk(server, s3, big_report):
    # given a download that stalls, longer than the read timeout, one and a half chunks in
    chunk = download.DOWNLOAD_CHUNK_BYTES
    server.bodies, server.cuts, server.stall_seconds = [big_report], [chunk + chunk // 2], 2.0
    # when it lands
    result = land(server, s3, timeout=(2.0, 0.5))
    # then the half chunk that was still being read is fetched again, and nothing is lost
    assert server.requests[-1][2] == f"bytes={chunk}-"
    assert result.resumes == 1
    assert gzip.decompress(stored(s3)) == big_report


def test_server_answering_200_to_a_range_request_is_skipped_to_the_received_byte(server, s3):
    body = report_csv(nasty_rows(9, 500))
    server.bodies, server.cuts, server.ignore_range = [body], [2500], True
    result = land(server, s3)
    assert result.resumes == 1 and result.bytes_in == len(body)
    assert gzip.decompress(stored(s3)) == body


def test_report_that_changes_between_requests_is_not_spliced(server, s3):
    # given a download cut, then resumed on a report of another size
    first = report_csv(nasty_rows(10, 100))
    server.bodies, server.cuts = [first, first + b"x,y,z,w\r\n"], [500]
    with pytest.raises(errors.DownloadInterrupted, match="changed during the download"):
        land(server, s3)
    assert_nothing_landed(s3)


def test_exhausted_resumes_raise_and_leave_no_object_and_no_open_upload(server, s3, big_report):
    # given a download that breaks on every request, the first time after more than a part
    server.bodies = [big_report]
    server.cuts = [9 * 1024 * 1024] + [1000] * download.MAX_RESUMES
    uploaded = []
    s3.meta.events.register("after-call.s3.UploadPart", lambda **kwargs: uploaded.append(1))
    # when landing
    with pytest.raises(errors.DownloadInterrupted, match=f"broke {download.MAX_RESUMES + 1} times"):
        land(server, s3, part_size=multipart.MIN_PART_SIZE)
    # then parts had been uploaded, yet nothing is visible and the upload was aborted
    assert uploaded
    assert len(server.requests) == download.MAX_RESUMES + 1
    assert_nothing_landed(s3)


def test_unreachable_server_raises_interrupted_without_leaking_the_signature(server, s3):
    # given a URL on a port where nothing listens
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        server.port = closed.getsockname()[1]
    # when landing, then it gives up after the resume budget, naming no signature
    with pytest.raises(errors.DownloadInterrupted) as raised:
        land(server, s3)
    assert "secret" not in str(raised.value) and "redacted" in str(raised.value)
    assert_nothing_landed(s3)


def test_failed_part_upload_aborts_the_upload(server, s3, big_report):
    # given S3 failing on the second part
    server.bodies = [big_report]

    def fail_second_part(params, **kwargs):
        if params["PartNumber"] == 2:
            raise RuntimeError("S3 went away")

    s3.meta.events.register("before-parameter-build.s3.UploadPart", fail_second_part)
    with pytest.raises(RuntimeError, match="S3 went away"):
        land(server, s3, part_size=multipart.MIN_PART_SIZE)
    assert_nothing_landed(s3)


# --- reports that cannot land --------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [b"", gzip.compress(b""), b"\r\n", "\ufeff".encode()],
    ids=["empty", "empty-gzip", "blank-line", "bom-only"],
)
def test_report_without_a_header_line_raises_empty_report_and_lands_nothing(server, s3, body):
    server.bodies = [body]
    with pytest.raises(errors.EmptyReport):
        land(server, s3)
    assert_nothing_landed(s3)


@pytest.mark.parametrize(
    "served",
    [gzip.compress(report_csv(nasty_rows(11, 50)))[:-12], b"\x1f\x8bnot gzip at all"],
    ids=["truncated", "garbage"],
)
def test_broken_gzip_download_lands_nothing(server, s3, served):
    server.bodies = [served]
    with pytest.raises(errors.UnexpectedApiResponse, match="gzip"):
        land(server, s3)
    assert_nothing_landed(s3)


def test_redirect_to_a_url_that_cannot_be_parsed_is_refused_as_a_host_not_allowed(server, s3):
    # given an allowed URL that redirects to an unclosed IPv6 literal
    server.redirect_to = "https://[::1/r.csv"
    # when landing, then the redirect is refused by name, not as a ValueError, and nothing landed
    with pytest.raises(errors.DownloadHostNotAllowed, match="cannot be parsed"):
        land(server, s3, download_link=Links(server, first=server.url(path="/redirect")))
    assert [path for path, _, _ in server.requests] == ["/redirect"]
    assert_nothing_landed(s3)


class Reader:
    """Another reader of the text (the curated file's typing, in the land step): what it was told."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, ...]] = []
        self.text = bytearray()
        self.ended = False

    def header(self, columns) -> None:
        self.headers.append(tuple(columns))

    def write(self, text: bytes) -> None:
        self.text += text

    def end(self) -> None:
        self.ended = True


@pytest.mark.parametrize("gzip_source", [False, True], ids=["csv", "gzip"])
@pytest.mark.parametrize(
    "body", [report_csv(nasty_rows(5, 200)), report_csv([], trailing=False)], ids=["rows", "header-only"]
)
def test_another_reader_gets_the_header_once_then_the_text_as_served_then_the_end(server, s3, body, gzip_source):
    # given a report sent in 7-byte pieces, as CSV or already gzip
    server.bodies, server.chunk = [gzip.compress(body) if gzip_source else body], 7
    reader = Reader()
    # when it lands with another reader
    result = land(server, s3, also_to=reader)
    # then that reader was given the header once, every byte of the text in order, and the end
    assert reader.headers == [COLUMNS] == [result.columns]
    assert bytes(reader.text) == body and reader.ended


def test_another_reader_is_never_told_the_end_of_a_download_that_failed(server, s3, big_report):
    server.bodies = [big_report]
    server.cuts = [1024 * 1024] + [1000] * download.MAX_RESUMES
    reader = Reader()
    with pytest.raises(errors.DownloadInterrupted):
        land(server, s3, also_to=reader)
    assert reader.headers == [tuple(next(csv.reader(io.StringIO(big_report[:4096].decode()))))]
    assert not reader.ended and big_report.startswith(bytes(reader.text))

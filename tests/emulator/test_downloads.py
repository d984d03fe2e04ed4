"""reportDownloadLink and GET on the link: signed, five-minute URLs that serve the report with Range."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bwp_lake.emulator.report_types import REPORTS
from bwp_lake.emulator.reports import header_line, report_bytes
from tests.emulator.support import SHIPMENTS, classification

DAY = date(2024, 8, 22)


def s3_error(response) -> tuple[str, str]:
    root = ElementTree.fromstring(response.content)
    return root.findtext("Code"), root.findtext("Message")


def served(api, report_type: str = "ORDER_FEES") -> tuple[str, bytes]:
    url = api.download_url(api.completed_task(report_type))
    return url, b"".join(report_bytes(report_type, DAY, api.emulator.config.seed, api.emulator.config.rows_per_day))


def test_before_completion_the_link_is_refused_as_not_ready(api):
    task_id = api.start_task()
    answer = api.link(task_id)
    assert answer["data"] == {"reportDownloadLink": None} and answer["errors"][0]["path"] == ["reportDownloadLink"]
    assert classification(answer)["type"] == "ValidationError" and classification(answer)["errorCode"] == 400
    assert "not ready" in answer["errors"][0]["message"]


@pytest.mark.parametrize("report_type", ["ORDER_FEES", "USER_EVENTS"])
def test_the_link_serves_exactly_the_days_report_with_its_length(api, report_type):
    url, expected = served(api, report_type)
    assert urlsplit(url).path.startswith("/downloads/")
    assert {"X-Amz-Expires", "X-Amz-Signature", "X-Amz-Date"} <= set(parse_qs(urlsplit(url).query))
    response = api.get(url)
    assert response.status_code == 200
    assert response.content == expected
    assert int(response.headers["Content-Length"]) == len(expected)
    assert response.headers["Content-Type"] == "text/csv" and response.headers["Accept-Ranges"] == "bytes"


def test_a_multi_day_task_serves_each_days_rows_after_one_header(api, emulator):
    task_id = api.completed_task("USER_EVENTS", "2024-08-22T00:00:00Z", "2024-08-24T00:00:00Z")
    header = header_line("USER_EVENTS").encode()
    days = [
        b"".join(report_bytes("USER_EVENTS", DAY + timedelta(days=n), 7, 200)).removeprefix(header) for n in range(2)
    ]
    assert api.get(api.download_url(task_id)).content == header + b"".join(days)


def test_a_range_from_an_offset_resumes_the_download(api):
    url, expected = served(api)
    offset = len(expected) // 3
    response = api.get(url, Range=f"bytes={offset}-")
    assert response.status_code == 206
    assert response.content == expected[offset:]
    assert response.headers["Content-Range"] == f"bytes {offset}-{len(expected) - 1}/{len(expected)}"
    assert int(response.headers["Content-Length"]) == len(expected) - offset


@pytest.mark.parametrize(
    ("header", "part"),
    [
        ("bytes=10-19", slice(10, 20)),
        ("bytes=-25", slice(-25, None)),
        ("bytes=0-", slice(0, None)),
    ],
)
def test_other_single_ranges_are_served_as_s3_serves_them(api, header, part):
    url, expected = served(api)
    response = api.get(url, Range=header)
    assert response.status_code == 206 and response.content == expected[part]


@pytest.mark.parametrize("header", ["bytes=20-10", "items=0-5", "bytes=0-1,5-6"])
def test_a_range_that_cannot_be_read_is_ignored(api, header):
    url, expected = served(api)
    response = api.get(url, Range=header)
    assert response.status_code == 200 and response.content == expected


def test_a_range_past_the_end_is_not_satisfiable(api):
    url, expected = served(api)
    response = api.get(url, Range=f"bytes={len(expected)}-")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(expected)}"
    assert s3_error(response)[0] == "InvalidRange"


def test_head_gives_the_headers_without_the_body(api):
    url, expected = served(api)
    response = api.session.head(url, timeout=5)
    assert response.status_code == 200 and int(response.headers["Content-Length"]) == len(expected)
    assert response.content == b""


def test_the_link_expires_five_minutes_after_it_was_given(api, emulator):
    task_id = api.completed_task()
    url = api.download_url(task_id)
    emulator.advance(290)
    assert api.get(url).status_code == 200
    emulator.advance(11)
    response = api.get(url)
    assert response.status_code == 403
    assert s3_error(response) == ("AccessDenied", "Request has expired")
    # and a new link works again
    assert api.get(api.download_url(task_id)).status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url[:-4] + ("0000" if not url.endswith("0000") else "1111"),
        lambda url: url.replace("X-Amz-Expires=300", "X-Amz-Expires=3600"),
        lambda url: url.replace("ORDER_FEES.csv", "USER_EVENTS.csv"),
        lambda url: url.replace("X-Amz-Date=", "X-Amz-Date=1"),
    ],
)
def test_a_tampered_link_is_refused_with_an_s3_error(api, tamper):
    url, _ = served(api)
    response = api.get(tamper(url))
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/xml"
    assert s3_error(response)[0] == "SignatureDoesNotMatch"


def test_a_link_without_a_signature_is_refused(api):
    url, _ = served(api)
    response = api.get(url.split("?")[0])
    assert response.status_code == 403 and s3_error(response)[0] == "AccessDenied"


def test_a_link_to_a_task_that_expired_meanwhile_finds_no_report(api, emulator):
    task_id = api.completed_task()
    requested = datetime.fromisoformat(api.task(task_id)["data"]["reportTask"]["requestTime"])
    emulator.advance_to(requested + timedelta(days=7, minutes=-2))
    url = api.download_url(task_id)
    emulator.advance(180)
    response = api.get(url)
    assert response.status_code == 404 and s3_error(response)[0] == "NoSuchKey"


def test_downloads_keep_the_connection_alive_and_are_counted(api, emulator):
    url, expected = served(api)
    first, second = api.get(url), api.get(url)
    assert first.raw.version == 11 and "close" not in first.headers.get("Connection", "")
    assert first.content == second.content == expected
    assert emulator.state()["calls"]["download"] == 2


def test_a_report_type_added_as_one_entry_is_started_and_served_by_the_api(api, monkeypatch):
    # given a report type that exists only as an entry of the emulator's report types
    monkeypatch.setitem(REPORTS, SHIPMENTS.name, SHIPMENTS)
    # when a task of it completes and its report is fetched whole and resumed from byte 10
    url, expected = served(api, SHIPMENTS.name)
    whole, resumed = api.get(url), api.get(url, Range="bytes=10-")
    # then the API served exactly the day's report, its header first
    assert expected.startswith(b"shipmentId,shippedAt,carrier,note\n") and expected.count(b"\n") == 1 + 200
    assert whole.content == expected and resumed.status_code == 206 and resumed.content == expected[10:]

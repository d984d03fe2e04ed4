"""Fault switches: each one makes the emulator fail the way the real service (or S3) can."""

from __future__ import annotations

import gzip
import http.client
import json
from datetime import date
from urllib.parse import urlsplit

import pytest

from bwp_lake.emulator.reports import columns, report_bytes
from tests.emulator.support import ApiClient, classification

DAY = date(2024, 8, 22)


def expected_report(emulator, report_type: str = "ORDER_FEES") -> bytes:
    return b"".join(report_bytes(report_type, DAY, emulator.config.seed, emulator.config.rows_per_day))


@pytest.mark.parametrize(
    ("switch", "expected"),
    [
        ("throttle_rate", {"type": "ThrottlingError", "errorType": "ThrottlingException", "errorCode": 429}),
        (
            "internal_error_rate",
            {"type": "InternalServerError", "errorType": "InternalServerException", "errorCode": 500},
        ),
    ],
)
def test_error_rate_one_answers_every_graphql_call_with_that_error(api, emulator, switch, expected):
    task_id = api.completed_task()
    emulator.set_faults(**{switch: 1.0})
    answers = {"startReportTask": api.start(), "reportTask": api.task(task_id), "reportDownloadLink": api.link(task_id)}
    for field, answer in answers.items():
        assert answer["data"] == {field: None}
        assert answer["errors"][0]["path"] == [field] and answer["errors"][0]["locations"]
        assert classification(answer) == expected
    assert len(emulator.state()["tasks"]) == 1  # the refused start did not start anything


def test_an_error_rate_is_a_reproducible_fraction_of_calls(api, emulator):
    def outcomes() -> list[bool]:
        emulator.set_faults(throttle_rate=0.5)
        return ["errors" in api.task(task_id) for _ in range(30)]

    task_id = api.start_task()
    first = outcomes()
    assert 5 <= first.count(True) <= 25
    assert outcomes() == first


def test_http_500_rate_answers_api_calls_with_a_body_that_is_not_json(api, emulator):
    url = api.download_url(api.completed_task())
    headers = api.headers()
    emulator.set_faults(http_500_rate=1.0)
    for response in (
        api.post_graphql('query { reportTask(taskId: "x") { status } }', headers=headers),
        api.token_response(),
    ):
        assert response.status_code == 500
        with pytest.raises(ValueError):
            json.loads(response.content)
    assert api.get(url).status_code == 200  # downloads are S3's, not the API's


def test_latency_delays_api_and_download_requests_but_not_control(api, emulator, monkeypatch):
    url = api.download_url(api.completed_task())
    headers = api.headers()
    pauses: list[float] = []
    monkeypatch.setattr("bwp_lake.emulator.server.sleep", pauses.append)
    emulator.set_faults(latency_ms=250)
    api.post_graphql('query { reportTask(taskId: "x") { status } }', headers=headers)
    api.token_response()
    api.get(url)
    api.control("GET", "state")
    assert pauses == [0.25, 0.25, 0.25]


def test_fail_reports_always_fails_new_tasks_when_generation_ends(api, emulator):
    emulator.set_faults(fail_reports="always")
    task_id = api.start_task()
    assert api.status(task_id) == "STARTED"
    emulator.advance(3600)
    assert api.status(task_id) == "FAILED"
    answer = api.link(task_id)
    assert answer["data"] == {"reportDownloadLink": None}
    assert classification(answer)["errorType"] == "ValidationException"
    assert classification(answer)["code"] == "ReportNotAvailable"


def test_a_fail_reports_fraction_fails_a_reproducible_share_of_tasks(make_emulator):
    api = ApiClient(make_emulator(generation_seconds=0))

    def statuses() -> list[str]:
        api.emulator.set_faults(fail_reports=0.5)
        return [api.status(api.start_task()) for _ in range(20)]

    first = statuses()
    assert set(first) == {"COMPLETED", "FAILED"}
    assert statuses() == first


def read_until_cut(url: str) -> bytes:
    """The body bytes that arrived before the connection closed (http.client keeps them all)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
        assert cut.value.expected > 0
        return cut.value.partial
    finally:
        connection.close()


def test_drop_download_cuts_the_first_full_get_and_a_range_resume_completes_it(api, emulator):
    # given downloads cut after 10,000 bytes
    emulator.set_faults(drop_download_after_bytes=10_000)
    url, expected = api.download_url(api.completed_task()), expected_report(emulator)
    # when the report is fetched, then the body stops short of its Content-Length
    head = read_until_cut(url)
    assert head == expected[:10_000]
    # and a Range resume from the cut gets the rest
    rest = api.get(url, Range=f"bytes={len(head)}-")
    assert rest.status_code == 206 and head + rest.content == expected
    # and a later full GET of the same report is not cut again
    assert api.get(url).content == expected
    # while another task's first download is
    assert read_until_cut(api.download_url(api.completed_task())) == expected[:10_000]


def test_gzip_downloads_serve_gzip_bytes_that_resume_with_range(api, emulator):
    plain_task = api.completed_task()
    emulator.set_faults(gzip_downloads=True)
    url = api.download_url(api.completed_task())
    response = api.get(url)
    assert url.split("?")[0].endswith(".csv.gz") and response.headers["Content-Type"] == "application/octet-stream"
    assert response.content[:2] == b"\x1f\x8b"
    assert gzip.decompress(response.content) == expected_report(emulator)
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert api.get(url, Range="bytes=100-").content == response.content[100:]
    # a report started before the switch stays as it was
    assert api.get(api.download_url(plain_task)).content == expected_report(emulator)


@pytest.mark.parametrize("drift", ["rename", "add"])
def test_header_drift_changes_the_header_of_new_reports(api, emulator, drift):
    plain_task = api.completed_task()
    emulator.set_faults(header_drift=drift)
    lines = api.get(api.download_url(api.completed_task())).content.decode().splitlines()
    documented = list(columns("ORDER_FEES"))
    header = lines[0].split(",")
    if drift == "rename":
        assert len(header) == len(documented) and header != documented
    else:
        assert header[:-1] == documented and all(line.count(",") == len(documented) for line in lines[1:])
    assert api.get(api.download_url(plain_task)).content == expected_report(emulator)


@pytest.mark.parametrize("gzip_downloads", [False, True])
def test_empty_reports_serve_new_reports_as_a_zero_byte_body(api, emulator, gzip_downloads):
    plain_task = api.completed_task()
    emulator.set_faults(empty_reports=True, gzip_downloads=gzip_downloads)
    url = api.download_url(api.completed_task())
    response = api.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "0" and response.content == b""
    assert api.session.head(url, timeout=5).headers["Content-Length"] == "0"
    # a report started before the switch stays as it was
    assert api.get(api.download_url(plain_task)).content == expected_report(emulator)


def test_token_expiry_seconds_sets_the_lifetime_of_new_tokens(api, emulator):
    emulator.set_faults(token_expiry_seconds=60)
    answer = api.token_response().json()
    assert answer["expires_in"] == 60
    headers = {"Authorization": f"Bearer {answer['access_token']}", "x-api-target-id": "local-target"}
    document = 'query { reportTask(taskId: "x") { status } }'
    emulator.advance(58)
    assert classification(api.post_graphql(document, headers=headers).json())["errorCode"] == 404
    emulator.advance(3)
    assert classification(api.post_graphql(document, headers=headers).json())["errorCode"] == 403


def test_faults_are_a_partial_update_over_http_and_in_process(api, emulator):
    # given one switch set over HTTP and another in process
    assert api.control("POST", "faults", {"throttle_rate": 0.25}).json()["throttle_rate"] == 0.25
    emulator.set_faults(latency_ms=5)
    # then both hold, and the rest keep their defaults
    faults = api.control("GET", "faults").json()
    assert (faults["throttle_rate"], faults["latency_ms"]) == (0.25, 5)
    assert (faults["fail_reports"], faults["gzip_downloads"], faults["header_drift"]) == (0.0, False, None)
    assert emulator.state()["faults"] == faults


@pytest.mark.parametrize(
    "changes",
    [
        {"no_such_switch": 1},
        {"throttle_rate": 1.5},
        {"throttle_rate": "often"},
        {"fail_reports": "sometimes"},
        {"drop_download_after_bytes": -1},
        {"gzip_downloads": "yes"},
        {"header_drift": "shuffle"},
        {"empty_reports": 1},
        {"token_expiry_seconds": 0},
        {"throttle_rate": 0.5, "bogus": True},
    ],
)
def test_a_bad_fault_setting_is_refused_and_changes_nothing(api, emulator, changes):
    before = emulator.state()["faults"]
    with pytest.raises(ValueError):
        emulator.set_faults(**changes)
    response = api.control("POST", "faults", changes)
    assert response.status_code == 400 and response.json()["error"]
    assert emulator.state()["faults"] == before

"""Downloads that break, expire, come gzip, come empty or point elsewhere.

Either the report lands byte-identical (and the manifest says what it took), or the window fails
naming what happened, with nothing partial left in the lake.
"""

from __future__ import annotations

from collections.abc import Callable

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.emulator.downloads import LINK_LIFETIME_SECONDS
from tests.twin import GENERATION_SECONDS, SEED, assert_landed, assert_nothing_landed, assert_window_failed

DAY = "2024-08-22"
ONE_DAY = {"reportTypes": ["USER_EVENTS"], "startDate": DAY, "endDate": "2024-08-23"}


def on_each_download(emulator: Emulator, monkeypatch, act: Callable[[str | None], None]) -> None:
    """Call ``act(range_header)`` before the emulator answers each GET of a report."""
    serve = emulator.api.download

    def download(path, query, range_header, *, head):
        if not head:
            act(range_header)
        return serve(path, query, range_header, head=head)

    monkeypatch.setattr(emulator.api, "download", download)


def test_a_dropped_download_is_resumed_and_lands_byte_identical(engine_for, emulator):
    # given a download that breaks after 700 bytes
    emulator.set_faults(drop_download_after_bytes=700)
    engine = engine_for()
    # when the window runs
    outcome = engine.run(ONE_DAY)
    # then the landing resumed where it broke, and the partition holds exactly what was served
    assert outcome.succeeded, outcome.cause
    landed = assert_landed(engine, "USER_EVENTS", DAY)
    assert landed["download"]["resumes"] >= 1
    assert landed["download"]["sourceGzip"] is False


def test_a_download_that_keeps_breaking_fails_the_window_with_download_interrupted(engine_for, emulator, monkeypatch):
    # given a connection that breaks after 700 bytes on every request, resumes included
    serve = emulator.api.download

    def cut_every_get(path, query, range_header, *, head):
        answer = serve(path, query, range_header, head=head)
        answer.drop_after = 700
        return answer

    monkeypatch.setattr(emulator.api, "download", cut_every_get)
    engine = engine_for()
    # when the window runs
    outcome = engine.run(ONE_DAY)
    # then the resume budget ran out, the window says so, and nothing partial is left
    assert_window_failed(outcome, "USER_EVENTS", DAY, "DownloadInterrupted", "broke", "times (at byte")
    assert_nothing_landed(engine, "USER_EVENTS", DAY)


def test_gzip_downloads_are_stored_as_served_even_when_resumed(engine_for, emulator):
    # given reports served gzip-compressed, whose first download breaks
    emulator.set_faults(gzip_downloads=True, drop_download_after_bytes=300)
    engine = engine_for()
    outcome = engine.run(ONE_DAY)
    # then the object decompresses to exactly the report, and the manifest says it came gzip
    assert outcome.succeeded, outcome.cause
    landed = assert_landed(engine, "USER_EVENTS", DAY)
    assert landed["download"]["sourceGzip"] is True
    assert landed["download"]["resumes"] >= 1
    assert landed["bytesIn"] == landed["bytesOut"]


def test_a_link_that_expires_mid_download_is_refetched_and_the_download_resumed(engine_for, emulator, monkeypatch):
    # given a download that breaks, and a link that has expired by the time the resume asks
    emulator.set_faults(drop_download_after_bytes=700)

    expired = []

    def expire_before_the_resume(range_header):
        if range_header and not expired:
            expired.append(range_header)
            emulator.advance(LINK_LIFETIME_SECONDS + 1)

    on_each_download(emulator, monkeypatch, expire_before_the_resume)
    engine = engine_for()
    outcome = engine.run(ONE_DAY)
    # then a fresh link continued the same download, and the bytes are whole
    assert outcome.succeeded, outcome.cause
    assert expired
    landed = assert_landed(engine, "USER_EVENTS", DAY)
    assert landed["download"]["linkRefreshes"] >= 1
    assert landed["download"]["resumes"] >= 1


def test_links_that_are_always_expired_fail_the_window_with_download_link_expired(engine_for, emulator, monkeypatch):
    # given links that have always expired by the time they are used
    on_each_download(emulator, monkeypatch, lambda range_header: emulator.advance(LINK_LIFETIME_SECONDS + 1))
    engine = engine_for()
    outcome = engine.run(ONE_DAY)
    # then the refreshes ran out, the window names the cause, and nothing landed
    assert_window_failed(outcome, "USER_EVENTS", DAY, "DownloadLinkExpired", "fresh links")
    assert_nothing_landed(engine, "USER_EVENTS", DAY)


def test_a_download_host_off_the_allowlist_is_never_fetched(engine_for, emulator):
    # given an allowlist that does not include the host the API's links point at
    engine = engine_for(allowed_download_hosts="*.amazonaws.com,reports.example.com")
    outcome = engine.run(ONE_DAY)
    # then the window fails naming the host, no request went to it, and nothing landed
    assert_window_failed(outcome, "USER_EVENTS", DAY, "DownloadHostNotAllowed", "'127.0.0.1'", "not in the allowlist")
    assert emulator.state()["calls"]["download"] == 0
    assert_nothing_landed(engine, "USER_EVENTS", DAY)


def test_a_zero_byte_report_fails_the_window_with_empty_report(engine_for, emulator):
    # given reports that come as a zero-byte body, not even a header line
    emulator.set_faults(empty_reports=True)
    engine = engine_for()
    outcome = engine.run(ONE_DAY)
    # then the window fails naming EmptyReport, and nothing landed
    assert_window_failed(outcome, "USER_EVENTS", DAY, "EmptyReport", "no header line", "0 bytes")
    assert_nothing_landed(engine, "USER_EVENTS", DAY)


def test_a_report_with_a_header_and_no_rows_lands_with_zero_rows(engine_for):
    # given a day without a single event: the report is its header line alone
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=0, generation_seconds=GENERATION_SECONDS)) as quiet:
        engine = engine_for(api=quiet)
        outcome = engine.run(ONE_DAY)
    # then the day lands, with its header and no rows: an empty day, not a missing one
    assert outcome.succeeded, outcome.cause
    assert assert_landed(engine, "USER_EVENTS", DAY, rows_per_day=0)["rows"] == 0
    assert outcome.summary["rows"] == 0

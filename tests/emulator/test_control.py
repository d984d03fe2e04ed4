"""/_emulator/*: the clock that drives every deadline, the state, reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bwp_lake.emulator import Emulator, EmulatorConfig
from tests.emulator.support import START, TIMEOUT, ApiClient


def test_the_clock_starts_at_the_configured_time_and_runs_with_real_time(emulator):
    now = emulator.now()
    assert now.tzinfo is not None and START <= now < START + timedelta(seconds=30)


def test_by_default_the_clock_starts_at_real_utc_now():
    before = datetime.now(UTC)
    now = Emulator(EmulatorConfig()).now()
    assert before <= now <= datetime.now(UTC)


def test_the_clock_moves_forward_by_seconds_or_to_an_instant(api, emulator):
    shown = datetime.fromisoformat(api.control("GET", "clock").json()["now"])
    assert abs(shown - emulator.now()) < timedelta(seconds=5)
    moved = datetime.fromisoformat(api.control("POST", "clock", {"advance_seconds": 3600}).json()["now"])
    assert moved >= shown + timedelta(seconds=3600)
    # as the local engine sends it: isoformat() of an aware datetime
    target = moved + timedelta(days=2)
    answer = api.control("POST", "clock", {"advance_to": target.isoformat()})
    assert datetime.fromisoformat(answer.json()["now"]) >= target
    assert emulator.now() >= target


def test_the_clock_never_moves_backwards(api, emulator):
    now = emulator.now()
    answer = api.control("POST", "clock", {"advance_to": (now - timedelta(days=1)).isoformat()})
    assert answer.status_code == 200 and datetime.fromisoformat(answer.json()["now"]) >= now - timedelta(milliseconds=1)
    with pytest.raises(ValueError):
        emulator.advance(-1)


@pytest.mark.parametrize(
    "payload",
    [
        {"advance_seconds": -5},
        {"advance_seconds": "5"},
        {"advance_to": "2030-01-01T00:00:00"},
        {"advance_to": "tomorrow"},
        {},
        {"advance_seconds": 1, "advance_to": "2030-01-01T00:00:00Z"},
    ],
)
def test_a_bad_clock_request_is_refused(api, emulator, payload):
    before = emulator.now()
    response = api.control("POST", "clock", payload)
    assert response.status_code == 400 and response.json()["error"]
    assert emulator.now() - before < timedelta(seconds=5)


def test_the_state_lists_tasks_and_counts_each_operation(make_emulator):
    # given a token, two tasks, two status queries, a link and a download
    emulator = make_emulator(generation_seconds=0)
    api = ApiClient(emulator)
    first = api.start_task()
    api.start_task("USER_EVENTS", "2024-08-01T00:00:00Z", "2024-08-03T00:00:00Z")
    api.status(first)
    api.status(first)
    api.get(api.download_url(first))
    # then the state shows each of them
    state = api.control("GET", "state").json()
    assert state["calls"] == {"token": 1, "startReportTask": 2, "reportTask": 2, "reportDownloadLink": 1, "download": 1}
    assert [
        (
            task["taskId"] == first,
            task["reportType"],
            task["status"],
            task["startDate"],
            task["endDate"],
            task["targetId"],
            task["expired"],
        )
        for task in state["tasks"]
    ] == [
        (
            True,
            "ORDER_FEES",
            "COMPLETED",
            "2024-08-22T00:00:00.000Z",
            "2024-08-23T00:00:00.000Z",
            "local-target",
            False,
        ),
        (
            False,
            "USER_EVENTS",
            "COMPLETED",
            "2024-08-01T00:00:00.000Z",
            "2024-08-03T00:00:00.000Z",
            "local-target",
            False,
        ),
    ]
    assert state["maxConcurrentInProgress"] == 0  # with no generation time nothing is ever in progress
    assert abs(datetime.fromisoformat(state["now"]) - emulator.now()) < timedelta(seconds=5)
    assert state == emulator.state() | {"now": state["now"]}


def test_the_state_tracks_the_most_tasks_ever_in_progress_at_once(api, emulator):
    for _ in range(3):
        api.start_task()
    emulator.advance(3600)
    api.start_task()
    assert emulator.state()["maxConcurrentInProgress"] == 3


def test_reset_forgets_tasks_counts_and_faults_but_not_the_time(api, emulator):
    task_id = api.completed_task()
    emulator.set_faults(throttle_rate=0.5, gzip_downloads=True)
    before = emulator.now()
    state = api.control("POST", "reset").json()
    assert state["tasks"] == [] and set(state["calls"].values()) == {0} and state["maxConcurrentInProgress"] == 0
    assert state["faults"]["throttle_rate"] == 0.0 and state["faults"]["gzip_downloads"] is False
    assert datetime.fromisoformat(state["now"]) >= before - timedelta(milliseconds=1)
    # the task is gone; an existing token still works
    assert api.task(task_id)["errors"][0]["message"] == "Querying for an invalid or expired taskId"
    emulator.reset()
    assert emulator.state()["calls"]["reportTask"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("POST", "/_emulator/nothing"), ("GET", "/_emulator/reset"), ("GET", "/graphql")],
)
def test_unknown_routes_are_not_found(api, method, path):
    response = api.session.request(method, f"{api.base}{path}", timeout=TIMEOUT)
    assert response.status_code == 404 and response.json()["error"]


def test_an_oversized_request_body_is_refused(api):
    response = api.session.post(f"{api.base}/graphql", data=b"x" * (2 << 20), timeout=TIMEOUT)
    assert response.status_code == 413

"""The API having a bad day: throttle storms, 5xx storms, refused connections, expiring tokens.

Storms run one window at a time: the emulator's fault RNGs then answer the same way on every run
(see emulator/README.md), so a storm this heavy is a reproducible test, not a dice roll.
"""

from __future__ import annotations

import os
from unittest import mock

import pytest

from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.local.engine import ApiEndpoint, LocalEngine
from tests.faults.network import Gate
from tests.twin import ROWS_PER_DAY, SEED, assert_landed, assert_nothing_landed, assert_window_failed, calls

TYPES = ("ORDER_FEES", "USER_EVENTS")
DAYS = ("2024-08-21", "2024-08-22")
FOUR_WINDOWS_ONE_AT_A_TIME = {
    "reportTypes": list(TYPES),
    "startDate": DAYS[0],
    "endDate": "2024-08-23",
    "maxConcurrency": 1,
}


def errors_seen(outcome) -> set[str]:
    return {call.error_type for call in outcome.invocations if call.error_type}


def assert_all_landed(engine, outcome) -> None:
    assert outcome.succeeded, outcome.cause
    for report_type in TYPES:
        for day in DAYS:
            assert_landed(engine, report_type, day)


def test_a_throttle_storm_is_ridden_out_and_every_window_lands(engine_for, emulator):
    # given an API that throttles 60 % of its calls
    emulator.set_faults(throttle_rate=0.6)
    engine = engine_for()
    # when four windows run
    outcome = engine.run(FOUR_WINDOWS_ONE_AT_A_TIME)
    # then the storm was felt, retried with backoff, and every window landed byte-identical
    assert "ThrottlingException" in errors_seen(outcome)
    assert_all_landed(engine, outcome)


@pytest.mark.parametrize(
    ("switch", "error"), [("http_500_rate", "ApiUnavailable"), ("internal_error_rate", "InternalServerException")]
)
def test_a_storm_of_server_errors_is_retried_and_every_window_lands(engine_for, emulator, switch, error):
    # given an API that fails 30 % of its calls on its side (an HTML 500, or an InternalServerException)
    emulator.set_faults(**{switch: 0.3})
    engine = engine_for()
    outcome = engine.run(FOUR_WINDOWS_ONE_AT_A_TIME)
    # then the failures were retried and every window landed byte-identical
    assert error in errors_seen(outcome)
    assert_all_landed(engine, outcome)


def test_an_api_that_refuses_connections_for_a_while_is_retried_and_the_window_lands(engine_for, emulator):
    # given an API host that goes down once the run is planned, and comes back after three refused attempts
    with Gate(emulator.base_url) as gate:
        refused = []

        def outage(invocation):
            if invocation.function == "bwp-plan-windows":
                gate.close()
            elif invocation.error_type == "ApiUnavailable":
                refused.append(invocation.error_message)
                if len(refused) == 3:
                    gate.open()

        engine = engine_for(outage)
        with mock.patch.dict(os.environ, {"BWP_API_URL": gate.url}):
            outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": DAYS[1], "endDate": "2024-08-23"})
    # then the refusals were named as such, retried, and the window landed through the same host
    assert len(refused) == 3 and all("ConnectionError" in message for message in refused)
    assert outcome.succeeded, outcome.cause
    assert_landed(engine, "ORDER_FEES", DAYS[1])


def test_an_api_that_keeps_refusing_connections_fails_the_window_with_api_unavailable(engine_for, emulator):
    # given an API host that is down from the moment the run is planned
    with Gate(emulator.base_url) as gate:

        def outage(invocation):
            if invocation.function == "bwp-plan-windows":
                gate.close()

        engine = engine_for(outage)
        with mock.patch.dict(os.environ, {"BWP_API_URL": gate.url}):
            outcome = engine.run({"reportTypes": ["ORDER_FEES"], "startDate": DAYS[1], "endDate": "2024-08-23"})
    # then the retries ran out and the window names the host it could not reach
    assert_window_failed(outcome, "ORDER_FEES", DAYS[1], "ApiUnavailable", gate.url, "ConnectionError")
    assert_nothing_landed(engine, "ORDER_FEES", DAYS[1])
    assert emulator.state()["calls"]["startReportTask"] == 0


def test_tokens_that_expire_between_polls_are_renewed_and_both_windows_land(engine_for):
    # given tokens that live 90 seconds, and reports that take minutes to generate; one window at a
    # time, since on the twin another window's wait could move the API's clock in the middle of a call
    slow = EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=2000.0)
    with Emulator(slow) as api:
        api.set_faults(token_expiry_seconds=90)
        engine = engine_for(api=api)
        outcome = engine.run(
            {"reportTypes": list(TYPES), "startDate": DAYS[1], "endDate": "2024-08-23", "maxConcurrency": 1}
        )
        tokens_issued = api.state()["calls"]["token"]
    # then the run outlived several tokens, renewed each without failing a call, and both windows landed
    assert outcome.api_seconds_elapsed > 3 * 90
    assert tokens_issued >= 3
    assert "AccessDeniedException" not in errors_seen(outcome)
    assert outcome.succeeded, outcome.cause
    for report_type in TYPES:
        assert_landed(engine, report_type, DAYS[1])


def test_bad_credentials_fail_the_run_once_before_any_window_starts(emulator):
    # given the right client id with a wrong secret
    credentials = emulator.credentials
    endpoint = ApiEndpoint.one_store(
        emulator.base_url, credentials["clientId"], "not-the-secret", credentials["targetId"]
    )
    with LocalEngine(endpoint) as engine:
        # when a week of both report types is asked for
        outcome = engine.run({"lookbackDays": 7})
    # then Plan windows refuses, naming the credentials, after one token request and no task
    assert outcome.status == "FAILED" and outcome.error == "AccessDeniedException"
    assert "check clientId and clientSecret" in outcome.cause
    assert calls(outcome, "bwp-start-report") == []
    assert emulator.state()["calls"]["token"] == 1 and emulator.state()["tasks"] == []

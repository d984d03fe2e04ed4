"""POST /token (OAuth 2.0 client credentials) and the checks every GraphQL call passes first."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.support import TIMEOUT, ApiClient, classification

REPORT_TASK = 'query ReportTask { reportTask(taskId: "ORDER_FEES:nope") { status } }'


def test_form_credentials_get_a_bearer_token_for_fifteen_minutes(api):
    response = api.token_response()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["access_token"]


def test_http_basic_credentials_get_a_token(api):
    response = requests.post(
        f"{api.base}/token",
        data={"grant_type": "client_credentials"},
        auth=("local-client", "local-secret"),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("form", [{"client_secret": "wrong"}, {"client_id": "someone-else"}])
def test_bad_credentials_are_refused_as_invalid_client(api, form):
    response = api.token_response(**form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_bad_basic_credentials_are_refused_with_a_challenge(api):
    response = requests.post(
        f"{api.base}/token", data={"grant_type": "client_credentials"}, auth=("local-client", "wrong"), timeout=TIMEOUT
    )
    assert response.status_code == 401 and response.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_another_grant_type_is_refused(api):
    response = api.token_response(grant_type="password")
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_a_token_works_until_it_expires_by_the_emulator_clock(api, emulator):
    # given a fresh token
    headers = api.headers()
    assert classification(api.graphql(REPORT_TASK))["errorType"] == "ResourceNotFoundException"  # let in
    # when the clock passes its fifteen minutes
    emulator.advance(899)
    assert classification(api.graphql(REPORT_TASK))["errorType"] == "ResourceNotFoundException"
    emulator.advance(2)
    # then the same token is refused
    answer = api.post_graphql(REPORT_TASK, headers=headers).json()
    assert classification(answer) == {
        "type": "AccessDeniedError",
        "errorType": "AccessDeniedException",
        "errorCode": 403,
    }
    assert answer["data"] == {"reportTask": None} and "expired" in answer["errors"][0]["message"]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic bG9jYWw6c2VjcmV0"])
def test_a_missing_or_forged_token_is_access_denied(api, authorization):
    headers = {"x-api-target-id": "local-target"} | ({"Authorization": authorization} if authorization else {})
    answer = api.post_graphql(REPORT_TASK, headers=headers).json()
    assert classification(answer)["errorType"] == "AccessDeniedException"
    assert answer["errors"][0]["path"] == ["reportTask"] and answer["data"] == {"reportTask": None}


def test_a_token_signed_for_another_emulator_is_refused(api, make_emulator):
    other = make_emulator()
    foreign = ApiClient(other).headers()
    answer = api.post_graphql(REPORT_TASK, headers=foreign).json()
    assert classification(answer)["errorType"] == "AccessDeniedException"


@pytest.mark.parametrize("target", [None, "someone-else"])
def test_the_target_id_header_must_name_the_credentials_target(api, target):
    headers = {key: value for key, value in api.headers().items() if key != "x-api-target-id"}
    if target:
        headers["x-api-target-id"] = target
    answer = api.post_graphql(REPORT_TASK, headers=headers).json()
    assert classification(answer)["errorType"] == "AccessDeniedException"
    assert "x-api-target-id" in answer["errors"][0]["message"]

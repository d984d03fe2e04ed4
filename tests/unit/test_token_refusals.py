"""A refused token request names RFC 6749's error code when there is one, whatever shape the body has."""

from __future__ import annotations

import json

import pytest
import requests
from bwp import errors
from bwp.client import BwpClient
from bwp.credentials import Credentials


class RefusingSession:
    """Answers every POST with the given status and body, as a gateway in front of /token might."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def post(self, url: str, **kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code, response._content, response.url = self.status, self.body, url
        return response


class FixedCredentials:
    def get(self) -> Credentials:
        return Credentials(clientId="client", clientSecret="a-client-secret", targetId="target")

    def refresh(self) -> None:
        pass


@pytest.mark.parametrize(
    "body, named",
    [
        (json.dumps({"error": "invalid_client"}).encode(), "invalid_client"),
        (json.dumps(["invalid_client"]).encode(), "no error code"),
        (json.dumps("invalid_client").encode(), "no error code"),
        (b"<html>denied</html>", "no error code"),
    ],
)
def test_a_refused_token_request_is_access_denied_naming_the_error_code_if_any(body, named):
    # given a token endpoint that refuses with 401 and this body
    client = BwpClient(
        session=RefusingSession(401, body),
        token_url="https://api.example/token",
        graphql_url="https://api.example/graphql",
        api_version="2024-11-01",
        credentials=FixedCredentials(),
        timeout=(1.0, 1.0),
    )
    # when the client checks its credentials, then the refusal is AccessDeniedException naming the code
    with pytest.raises(errors.AccessDeniedException, match=f"HTTP 401, {named}"):
        client.check_credentials()

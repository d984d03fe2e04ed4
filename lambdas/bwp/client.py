"""Buy with Prime reporting API: OAuth client credentials and the three GraphQL operations.

Every call has a timeout and raises an exception named for what happened (``bwp.errors``);
retrying is the state machine's job, so nothing here loops except one token refresh.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from bwp import errors
from bwp.credentials import Credentials
from bwp.redaction import excerpt, register_link, register_secret

# Refresh the token this long before the API says it expires, so a call never races expiry.
TOKEN_REFRESH_MARGIN_SECONDS = 60
DEFAULT_TOKEN_LIFETIME_SECONDS = 900.0  # documented: tokens live 15 minutes

# The API documentation's request documents, verbatim but for the literal values we fill in.
START_REPORT_TASK = """mutation StartReportTask {
  startReportTask(
    input: {
      timeRange: {
        startDate: %(start)s
        endDate: %(end)s
      }
      reportType: %(report_type)s
    }
  ) {
    taskId
  }
}"""

REPORT_TASK = """query ReportTask {
  reportTask(taskId: %(task_id)s) {
    status
    requestTime
    lastUpdatedTime
    reportType
    taskId
  }
}"""

REPORT_DOWNLOAD_LINK = """query Query {
  reportDownloadLink(
    taskId: %(task_id)s
  ) {
    downloadUrl
  }
}"""

_API_ERRORS: dict[str, type[errors.BwpError]] = {
    cls.__name__: cls
    for cls in (
        errors.ThrottlingException,
        errors.InternalServerException,
        errors.ResourceNotFoundException,
        errors.ValidationException,
        errors.AccessDeniedException,
    )
}


class CredentialsProvider(Protocol):
    def get(self) -> Credentials: ...

    def refresh(self) -> None: ...


@dataclass(frozen=True)
class ReportTask:
    task_id: str
    report_type: str
    status: str
    request_time: str | None
    last_updated_time: str | None


def graphql_string(value: str) -> str:
    """A GraphQL string literal; JSON's escaping is a subset GraphQL accepts."""
    return json.dumps(value)


class BwpClient:
    def __init__(
        self,
        *,
        session: requests.Session,
        token_url: str,
        graphql_url: str,
        api_version: str,
        credentials: CredentialsProvider,
        timeout: tuple[float, float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._token_url = token_url
        self._graphql_url = graphql_url
        self._api_version = api_version
        self._credentials = credentials
        self._timeout = timeout
        self._clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = threading.Lock()

    @property
    def target_id(self) -> str:
        """The merchant the credentials act for; the API's task limit is per target id."""
        return self._credentials.get().target_id

    def check_credentials(self) -> None:
        """Fetch a token now: a refused secret fails here, once, instead of in every window."""
        self._access_token()

    # --- the API's operations ---------------------------------------------------------------
    def start_report_task(self, report_type: str, start: str, end: str) -> str:
        document = START_REPORT_TASK % {
            "start": graphql_string(start),
            "end": graphql_string(end),
            "report_type": graphql_string(report_type),
        }
        data = self._graphql("StartReportTask", document, "startReportTask", f"{report_type} [{start}, {end})")
        return _required_str(data, "taskId", "startReportTask")

    def report_task(self, task_id: str) -> ReportTask:
        data = self._graphql("ReportTask", REPORT_TASK % {"task_id": graphql_string(task_id)}, "reportTask", task_id)
        return ReportTask(
            task_id=data.get("taskId") or task_id,
            report_type=data.get("reportType") or "",
            status=_required_str(data, "status", "reportTask"),
            request_time=data.get("requestTime"),
            last_updated_time=data.get("lastUpdatedTime"),
        )

    def report_download_link(self, task_id: str) -> str:
        document = REPORT_DOWNLOAD_LINK % {"task_id": graphql_string(task_id)}
        data = self._graphql("Query", document, "reportDownloadLink", task_id)
        link = _required_str(data, "downloadUrl", "reportDownloadLink")
        register_link(link)
        return link

    # --- transport ----------------------------------------------------------------------------
    def _graphql(self, operation: str, document: str, field: str, subject: str) -> dict[str, Any]:
        """``data.<field>`` of the answer; ``subject`` names what was asked about in errors."""
        body = {"query": document, "operationName": operation}
        token, fresh = self._access_token()
        try:
            return self._post_graphql(body, field, subject, token)
        except errors.AccessDeniedException:
            if fresh:
                raise
            # A cached token revoked or expired early is refused once; a fresh token settles
            # that, and a refusal of the fresh one is the real answer.
            self._forget_token()
            return self._post_graphql(body, field, subject, self._access_token()[0])

    def _post_graphql(self, body: dict[str, Any], field: str, subject: str, token: str) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "x-api-target-id": self._credentials.get().target_id,
            "x-api-version": self._api_version,
        }
        response = self._send(self._graphql_url, json=body, headers=headers)
        if response.status_code in (401, 403):
            raise errors.AccessDeniedException(f"{field}: HTTP {response.status_code}: {excerpt(response.text)}")
        payload = _json_body(response, field)
        if payload.get("errors"):
            raise _api_error(payload["errors"], f"{field} {subject}")
        if response.status_code >= 400:
            raise errors.UnexpectedApiResponse(f"{field}: HTTP {response.status_code}: {excerpt(response.text)}")
        data = (payload.get("data") or {}).get(field)
        if not isinstance(data, dict):
            raise errors.UnexpectedApiResponse(f"{field}: no data and no errors in {excerpt(response.text)}")
        return data

    def _access_token(self) -> tuple[str, bool]:
        """The token, and whether it was fetched just now."""
        with self._token_lock:
            if self._token is not None and self._clock() < self._token_expires_at:
                return self._token, False
            self._token, lifetime = self._request_token()
            self._token_expires_at = self._clock() + max(0.0, lifetime - TOKEN_REFRESH_MARGIN_SECONDS)
            return self._token, True

    def _forget_token(self) -> None:
        with self._token_lock:
            self._token = None

    def _request_token(self) -> tuple[str, float]:
        credentials = self._credentials.get()
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret.get_secret_value(),
        }
        response = self._send(self._token_url, data=form, headers={"Accept": "application/json"})
        if response.status_code in (400, 401, 403):
            # Perhaps the secret was rotated since we cached it: read it again next time.
            self._credentials.refresh()
            raise errors.AccessDeniedException(
                f"token request refused (HTTP {response.status_code}, {_oauth_error(response)}); "
                "check clientId and clientSecret in the credentials secret"
            )
        payload = _json_body(response, "token")
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise errors.UnexpectedApiResponse("token response has no access_token")
        register_secret(token)
        try:
            lifetime = float(payload.get("expires_in") or DEFAULT_TOKEN_LIFETIME_SECONDS)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME_SECONDS
        return token, lifetime

    def _send(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.post(url, timeout=self._timeout, **kwargs)
        except requests.Timeout as error:
            raise errors.ApiUnavailable(f"{url}: timed out ({error.__class__.__name__})") from None
        except requests.RequestException as error:
            raise errors.ApiUnavailable(f"{url}: {error.__class__.__name__}") from None
        if response.status_code == 429:
            raise errors.ThrottlingException(f"{url}: HTTP 429")
        if response.status_code >= 500:
            raise errors.ApiUnavailable(f"{url}: HTTP {response.status_code}")
        return response


def _json_body(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise errors.ApiUnavailable(
            f"{what}: HTTP {response.status_code} with a body that is not JSON: {excerpt(response.text)!r}"
        ) from None
    if not isinstance(payload, dict):
        raise errors.UnexpectedApiResponse(f"{what}: expected a JSON object, got {type(payload).__name__}")
    return payload


def _oauth_error(response: requests.Response) -> str:
    """RFC 6749's ``error`` code, when the refusal is the JSON object the standard describes."""
    try:
        payload = response.json()
    except ValueError:
        return "no error code"
    code = payload.get("error") if isinstance(payload, dict) else None
    return excerpt(str(code), 100) if code is not None else "no error code"


def _api_error(graphql_errors: Any, field: str) -> errors.BwpError:
    """The first error, as the exception its ``errorType`` names; everything it said is kept.

    The documented shapes differ (classification inside extensions, or its keys directly in
    extensions), so every level is checked before it is read.
    """
    first = graphql_errors[0] if isinstance(graphql_errors, list) and graphql_errors else graphql_errors
    if not isinstance(first, dict):
        first = {"message": str(first)}
    found = first.get("extensions")
    extensions: dict[str, Any] = found if isinstance(found, dict) else {}
    nested = extensions.get("classification")
    classification: dict[str, Any] = nested if isinstance(nested, dict) else extensions
    error_type = str(classification.get("errorType") or _exception_name(classification.get("type")) or "")
    detail = {key: classification[key] for key in ("type", "code", "errorCode", "details") if key in classification}
    message = f"{field}: {excerpt(str(first.get('message', 'no message')))}" + (
        f" {excerpt(json.dumps(detail))}" if detail else ""
    )
    return _API_ERRORS.get(error_type, errors.UnexpectedApiResponse)(message)


def _exception_name(error_kind: Any) -> str | None:
    """``ThrottlingError`` -> ``ThrottlingException``: some pages show only the ``type``."""
    if isinstance(error_kind, str) and error_kind.endswith("Error"):
        return error_kind[: -len("Error")] + "Exception"
    return None


def _required_str(data: dict[str, Any], key: str, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise errors.UnexpectedApiResponse(f"{field}: answer has no {key}: {excerpt(json.dumps(data))}")
    return value

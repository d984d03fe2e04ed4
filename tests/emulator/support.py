"""What the emulator's tests share: the documentation's requests and a small client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from bwp.client import REPORT_DOWNLOAD_LINK, REPORT_TASK, START_REPORT_TASK, graphql_string

from bwp_lake.emulator import Emulator
from bwp_lake.emulator.columns import Column, Draw, Drawn, Key, ReportType, Stamp

TIMEOUT = (2.0, 10.0)
# A fixed start makes the default window and the task expiry easy to reason about.
START = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)

# The documentation's request documents (the pages "Get an Analytics Report" and "View Buy with
# Prime Fees Charged For Each Order"): the client's, which keep their text, with the pages' values.
SEED_START_USER_EVENTS = START_REPORT_TASK % {
    "start": graphql_string("2023-06-01T20:58:49Z"),
    "end": graphql_string("2024-06-03T20:58:49Z"),
    "report_type": graphql_string("USER_EVENTS"),
}
SEED_START_ORDER_FEES = SEED_START_USER_EVENTS.replace('"USER_EVENTS"', '"ORDER_FEES"')
SEED_REPORT_TASK = REPORT_TASK % {"task_id": graphql_string("example-task-id")}
SEED_TASK_ID = "USER_EVENTS:23272b65-efac-412d-a8aa-ce8ef41bb448"
SEED_DOWNLOAD_LINK = REPORT_DOWNLOAD_LINK % {"task_id": graphql_string(SEED_TASK_ID)}

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
MILLIS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"

# "Get an Analytics Report", "Response for an expired `taskId`", to the letter
SEED_EXPIRED_RESPONSE = {
    "errors": [
        {
            "message": "Querying for an invalid or expired taskId",
            "locations": [{"line": 2, "column": 3}],
            "path": ["reportTask"],
            "extensions": {
                "classification": {
                    "type": "ResourceNotFoundError",
                    "errorType": "ResourceNotFoundException",
                    "errorCode": 404,
                }
            },
        }
    ],
    "data": {"reportTask": None},
}


class ApiClient:
    """Just enough of a Buy with Prime client to drive the emulator from tests, as one merchant
    (the emulator's first unless ``credentials`` name another)."""

    def __init__(self, emulator: Emulator, credentials: dict[str, str] | None = None) -> None:
        self.emulator = emulator
        self.credentials = credentials or emulator.credentials
        self.base = emulator.base_url
        self.session = requests.Session()
        self._token: str | None = None
        self._token_expires = START

    def token_response(self, **form: str) -> requests.Response:
        credentials = self.credentials
        body = {
            "grant_type": "client_credentials",
            "client_id": credentials["clientId"],
            "client_secret": credentials["clientSecret"],
            **form,
        }
        return self.session.post(f"{self.base}/token", data=body, timeout=TIMEOUT)

    def headers(self) -> dict[str, str]:
        if self._token is None or self.emulator.now() >= self._token_expires:
            answer = self.token_response().json()
            self._token = answer["access_token"]
            self._token_expires = self.emulator.now() + timedelta(seconds=answer["expires_in"] - 5)
        return {
            "Authorization": f"Bearer {self._token}",
            "x-api-target-id": self.credentials["targetId"],
            "x-api-version": "2024-11-01",
        }

    def post_graphql(self, document: str, headers: dict[str, str] | None = None, **extra: Any) -> requests.Response:
        return self.session.post(
            f"{self.base}/graphql",
            json={"query": document, **extra},
            headers=self.headers() if headers is None else headers,
            timeout=TIMEOUT,
        )

    def graphql(self, document: str, **extra: Any) -> dict[str, Any]:
        response = self.post_graphql(document, **extra)
        assert response.status_code == 200, response.text
        return response.json()

    def start(
        self,
        report_type: str = "ORDER_FEES",
        start: str | None = "2024-08-22T00:00:00Z",
        end: str | None = "2024-08-23T00:00:00Z",
    ) -> dict[str, Any]:
        dates = [f'{name}: "{value}"' for name, value in (("startDate", start), ("endDate", end)) if value is not None]
        time_range = f"timeRange: {{ {' '.join(dates)} }}" if dates else ""
        return self.graphql(
            f'mutation {{ startReportTask(input: {{ {time_range} reportType: "{report_type}" }}) {{ taskId }} }}'
        )

    def start_task(
        self, report_type: str = "ORDER_FEES", start: str = "2024-08-22T00:00:00Z", end: str = "2024-08-23T00:00:00Z"
    ) -> str:
        answer = self.start(report_type, start, end)
        assert "errors" not in answer, answer
        return answer["data"]["startReportTask"]["taskId"]

    def task(self, task_id: str) -> dict[str, Any]:
        return self.graphql(
            f'query ReportTask {{ reportTask(taskId: "{task_id}") '
            "{ status requestTime lastUpdatedTime reportType taskId } }"
        )

    def status(self, task_id: str) -> str:
        return self.task(task_id)["data"]["reportTask"]["status"]

    def link(self, task_id: str) -> dict[str, Any]:
        return self.graphql(f'query Query {{ reportDownloadLink(taskId: "{task_id}") {{ downloadUrl }} }}')

    def download_url(self, task_id: str) -> str:
        answer = self.link(task_id)
        assert "errors" not in answer, answer
        return answer["data"]["reportDownloadLink"]["downloadUrl"]

    def completed_task(
        self, report_type: str = "ORDER_FEES", start: str = "2024-08-22T00:00:00Z", end: str = "2024-08-23T00:00:00Z"
    ) -> str:
        task_id = self.start_task(report_type, start, end)
        self.emulator.advance(6 * 3600)  # well past the generation time of the windows these tests use
        assert self.status(task_id) == "COMPLETED"
        return task_id

    def get(self, url: str, **headers: str) -> requests.Response:
        return self.session.get(url, headers=headers, timeout=TIMEOUT)

    def control(self, method: str, name: str, payload: dict[str, Any] | None = None) -> requests.Response:
        return self.session.request(method, f"{self.base}/_emulator/{name}", json=payload, timeout=TIMEOUT)


def classification(answer: dict[str, Any]) -> dict[str, Any]:
    return answer["errors"][0]["extensions"]["classification"]


def _carrier(draw: Draw) -> str:
    return draw.rng.choice(("UPS", "USPS", "Acme, Inc."))


def _note(draw: Draw) -> str:
    return 'said "leave it at the door"' if draw.rng.random() < 0.5 else ""


# A report type that exists only in the tests, written as one entry: an id, a time, two drawn values
SHIPMENTS = ReportType(
    "TEST_SHIPMENTS",
    (
        Column("shipmentId", Key(lambda key: f"SH-{key:015x}")),
        Column("shippedAt", Stamp()),
        Column("carrier", Drawn(_carrier)),
        Column("note", Drawn(_note)),
    ),
    whole_seconds=True,
)

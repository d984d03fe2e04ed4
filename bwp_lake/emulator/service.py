"""The reporting API's behaviour, free of HTTP: tokens, report tasks, links, downloads, control.

Every method takes what the request carried and returns an ``Answer``; ``emulator.server`` only
moves bytes. A task's status is computed from the clock whenever it is asked for, so moving the
clock is all it takes to make reports finish, links lapse and tasks expire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote
from xml.sax.saxutils import escape

from graphql import GraphQLError, execute, get_operation_ast, parse, validate
from graphql.language import FieldNode

from bwp_lake.emulator import reports
from bwp_lake.emulator.clock import Clock, iso_millis, parse_instant
from bwp_lake.emulator.config import EmulatorConfig
from bwp_lake.emulator.faults import FaultSwitches
from bwp_lake.emulator.report_types import REPORTS
from bwp_lake.emulator.schema import OPERATIONS, SCHEMA, api_error, document_error

logger = logging.getLogger(__name__)

MAX_IN_PROGRESS = 5  # tasks STARTED or RUNNING at once, per target id
TASK_LIFETIME = timedelta(days=7)
LINK_LIFETIME_SECONDS = 300
DEFAULT_RANGE = timedelta(days=7)
EXPIRED_TASK_MESSAGE = "Querying for an invalid or expired taskId"
# Generation time scales with the square root of the volume; generation_seconds is the time of
# one day at this many rows.
REFERENCE_ROWS_PER_DAY = 2000
RUNNING_AFTER = 0.2  # share of the generation time a task spends STARTED before RUNNING
ACCEPT_DELAY = timedelta(milliseconds=250)  # STARTED's lastUpdatedTime, after requestTime
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
_UTC_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]00:?00)$", re.IGNORECASE
)
# what a load balancer in front of the API answers when the service behind it fails
HTTP_500_BODY = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500</h1></body></html>\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterator[bytes] = b""
    drop_after: int | None = None  # close the connection after this many body bytes


def json_answer(status: int, payload: Any, **headers: str) -> Answer:
    body = json.dumps(payload).encode()
    return Answer(status, {"Content-Type": "application/json", **headers}, body)


def error_answer(status: int, message: str) -> Answer:
    return json_answer(status, {"error": message})


@dataclass(frozen=True)
class Task:
    task_id: str
    report_type: str
    target_id: str
    start: datetime
    end: datetime
    requested: datetime
    generation: timedelta
    fails: bool
    gzip: bool
    header_drift: str | None
    empty: bool
    bad_last_record: str | None

    def progress(self, now: datetime) -> tuple[str, datetime]:
        """(status, lastUpdatedTime) at ``now``."""
        running_at = self.requested + self.generation * RUNNING_AFTER
        done_at = self.requested + self.generation
        if now >= done_at:
            return ("FAILED" if self.fails else "COMPLETED"), done_at
        if now >= running_at:
            return "RUNNING", running_at
        return "STARTED", min(self.requested + ACCEPT_DELAY, running_at)

    def in_progress(self, now: datetime) -> bool:
        return self.progress(now)[0] in ("STARTED", "RUNNING")

    def expired(self, now: datetime) -> bool:
        return now >= self.requested + TASK_LIFETIME

    def spec(self, config: EmulatorConfig) -> reports.ReportSpec:
        return reports.ReportSpec(
            self.report_type, self.start, self.end, config.seed, config.rows_per_day, self.header_drift, self.gzip,
            self.empty, self.bad_last_record,
        )


def generation_time(config: EmulatorConfig, start: datetime, end: datetime) -> timedelta:
    days = (end - start) / timedelta(days=1)
    volume = math.sqrt(config.rows_per_day / REFERENCE_ROWS_PER_DAY)
    return timedelta(seconds=config.generation_seconds * days * volume)


class ReportingApi:
    def __init__(self, config: EmulatorConfig, clock: Clock, faults: FaultSwitches) -> None:
        self.config = config
        self.clock = clock
        self.faults = faults
        self._key = secrets.token_bytes(32)  # signs tokens and download links
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._calls = dict.fromkeys(("token", *OPERATIONS, "download"), 0)
        self._max_in_progress = 0
        self._dropped: set[str] = set()  # tasks whose first download was already cut

    # --- POST /token -----------------------------------------------------------------------------
    def token(self, body: bytes, authorization: str | None) -> Answer:
        self._count("token")
        if self.faults.roll("http_500_rate"):
            return Answer(500, {"Content-Type": "text/html"}, HTTP_500_BODY)
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        basic = _basic_credentials(authorization)
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            error = "unsupported_grant_type" if "grant_type" in form else "invalid_request"
            return json_answer(400, {"error": error, "error_description": "grant_type must be client_credentials"})
        if not (_same(client_id, self.config.client_id) and _same(client_secret, self.config.client_secret)):
            challenge = {"WWW-Authenticate": 'Basic realm="bwp"'} if basic else {}
            return json_answer(401, {"error": "invalid_client", "error_description": "client authentication failed"},
                               **challenge)
        lifetime = self.faults.current.token_expiry_seconds
        expires = self.clock.now() + timedelta(seconds=lifetime)
        token = self._sign_token(client_id, expires)
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        return json_answer(200, payload, **{"Cache-Control": "no-store"})

    def _sign_token(self, client_id: str, expires: datetime) -> str:
        claims = base64.urlsafe_b64encode(json.dumps({"sub": client_id, "exp": expires.timestamp()}).encode())
        return f"{claims.decode()}.{self._mac('token', claims.decode())}"

    def _token_problem(self, authorization: str | None) -> str | None:
        """Why the bearer token is refused, or None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Missing bearer token: send Authorization: Bearer <access token>"
        claims, _, signature = token.strip().partition(".")
        if not _same(signature, self._mac("token", claims)):
            return "The access token is not valid"
        expires = json.loads(base64.urlsafe_b64decode(claims))["exp"]
        if self.clock.now().timestamp() >= expires:
            return "The access token has expired"
        return None

    # --- POST /graphql ---------------------------------------------------------------------------
    def graphql(self, body: bytes, headers: dict[str, str], host: str) -> Answer:
        try:
            request = json.loads(body or b"null")
        except ValueError:
            return json_answer(400, {"errors": [{"message": "The request body is not JSON"}]})
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return json_answer(400, {"errors": [{"message": 'Expected a JSON object with a "query" string'}]})
        variables, operation_name = request.get("variables"), request.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            return json_answer(400, {"errors": [{"message": '"variables" must be a JSON object'}]})
        try:
            document = parse(request["query"])
        except GraphQLError as error:
            return json_answer(200, {"errors": [document_error(error, "InvalidSyntax")]})
        if problems := validate(SCHEMA, document):
            return json_answer(200, {"errors": [document_error(error, "InvalidQuery") for error in problems]})
        for name in _operation_fields(document, operation_name):
            self._count(name)
        if self.faults.roll("http_500_rate"):
            return Answer(500, {"Content-Type": "text/html"}, HTTP_500_BODY)
        refusal = self._refusal(headers)
        result = execute(SCHEMA, document, root_value=_Root(self, refusal, host),
                         variable_values=variables, operation_name=operation_name)
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_formatted(error) for error in result.errors]
        payload["data"] = result.data
        return json_answer(200, payload)

    def _refusal(self, headers: dict[str, str]) -> GraphQLError | None:
        """The error every field of this call gets before it runs: auth first, then injected faults."""
        if problem := self._token_problem(headers.get("authorization")):
            return api_error("AccessDenied", problem)
        target = headers.get("x-api-target-id")
        if target != self.config.target_id:
            shown = "missing" if target is None else f"{target!r}, not a target these credentials may use"
            return api_error("AccessDenied", f"x-api-target-id is {shown}")
        if self.faults.roll("throttle_rate"):
            return api_error("Throttling", "Rate exceeded")
        if self.faults.roll("internal_error_rate"):
            return api_error("InternalServer", "An internal error occurred; retry the request")
        return None

    # --- the three operations --------------------------------------------------------------------
    def start_report_task(self, request: dict[str, Any], target_id: str) -> dict[str, str]:
        report_type = request["reportType"]
        if report_type not in REPORTS:
            raise api_error("Validation", f"Invalid report type {report_type!r}; valid report types: "
                            f"{', '.join(REPORTS)}", code="InvalidReportType")
        window = request.get("timeRange") or {}
        now = self.clock.now()
        end = _timestamp(window, "endDate") or now
        start = _timestamp(window, "startDate") or end - DEFAULT_RANGE
        if start >= end:
            raise api_error("Validation", f"startDate ({iso_millis(start)}) must be before endDate "
                            f"({iso_millis(end)})", code="InvalidDateRange")
        if start < EARLIEST or end > LATEST:
            raise api_error("Validation", "Dates must fall between 1970-01-01 and 9999-01-01",
                            code="InvalidDateRange")
        faults = self.faults.current
        with self._lock:
            in_progress = sum(1 for task in self._tasks.values() if task.target_id == target_id
                              and task.in_progress(now))
            if in_progress >= MAX_IN_PROGRESS:
                raise api_error("Throttling", f"At most {MAX_IN_PROGRESS} report tasks may be STARTED or RUNNING "
                                "at once; wait for one to finish before starting another")
            task = Task(
                task_id=f"{report_type}:{uuid.uuid4()}",
                report_type=report_type,
                target_id=target_id,
                start=start,
                end=end,
                requested=now,
                generation=generation_time(self.config, start, end),
                fails=self.faults.roll("fail_reports"),
                gzip=faults.gzip_downloads,
                header_drift=faults.header_drift,
                empty=faults.empty_reports,
                bad_last_record=faults.bad_last_record,
            )
            self._tasks[task.task_id] = task
            self._max_in_progress = max(self._max_in_progress, in_progress + task.in_progress(now))
        return {"taskId": task.task_id}

    def report_task(self, task_id: str) -> dict[str, str]:
        now = self.clock.now()
        task = self._live_task(task_id, now)
        status, updated = task.progress(now)
        return {
            "status": status,
            "requestTime": iso_millis(task.requested),
            "lastUpdatedTime": iso_millis(updated),
            "reportType": task.report_type,
            "taskId": task.task_id,
        }

    def report_download_link(self, task_id: str, host: str) -> dict[str, str]:
        now = self.clock.now()
        task = self._live_task(task_id, now)
        status, _ = task.progress(now)
        if status == "FAILED":
            raise api_error("Validation", f"Report task {task_id} FAILED; it has no report to download: start "
                            "a new task", code="ReportNotAvailable")
        if status != "COMPLETED":
            raise api_error("Validation", f"Report is not ready for download: task {task_id} is {status}; "
                            "query reportTask until it is COMPLETED", code="ReportNotReady")
        suffix = ".csv.gz" if task.gzip else ".csv"
        path = f"/downloads/{quote(task.task_id, safe='')}/{task.report_type}{suffix}"
        signed = now.replace(microsecond=0)
        amz_date = f"{signed:%Y%m%dT%H%M%SZ}"
        query = (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=local-emulator%2F{signed:%Y%m%d}%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={LINK_LIFETIME_SECONDS}&X-Amz-SignedHeaders=host"
            f"&X-Amz-Signature={self._link_signature(path, amz_date, str(LINK_LIFETIME_SECONDS))}"
        )
        return {"downloadUrl": f"http://{host}{path}?{query}"}

    def _live_task(self, task_id: str, now: datetime) -> Task:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.expired(now):
            raise api_error("ResourceNotFound", EXPIRED_TASK_MESSAGE)
        return task

    # --- GET /downloads/... ------------------------------------------------------------------------
    def download(self, path: str, query: str, range_header: str | None, *, head: bool) -> Answer:
        if not head:
            self._count("download")
        params = {name: values[0] for name, values in parse_qs(query).items()}
        amz_date, expires, signature = (params.get(f"X-Amz-{name}") for name in ("Date", "Expires", "Signature"))
        if not (amz_date and expires and signature):
            return _s3_error(403, "AccessDenied", "Query-string authentication requires the X-Amz-Date, "
                             "X-Amz-Expires and X-Amz-Signature parameters")
        if not _same(signature, self._link_signature(path, amz_date, expires)):
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                             "the signature you provided")
        now = self.clock.now()
        expiry = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + timedelta(seconds=int(expires))
        if now >= expiry:
            return _s3_error(403, "AccessDenied", "Request has expired", details={
                "X-Amz-Expires": expires, "Expires": f"{expiry:%Y-%m-%dT%H:%M:%SZ}",
                "ServerTime": f"{now:%Y-%m-%dT%H:%M:%SZ}"})
        task_id = unquote(path.split("/")[2])
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.expired(now):
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        spec = task.spec(self.config)
        length = reports.report_length(spec)
        wanted = _byte_range(range_header, length)
        if wanted == "unsatisfiable":
            return _s3_error(416, "InvalidRange", "The requested range is not satisfiable",
                             headers={"Content-Range": f"bytes */{length}"})
        first, last = wanted or (0, length - 1)
        headers = {
            "Content-Type": "application/octet-stream" if spec.gzip else "text/csv",
            "Content-Length": str(last - first + 1),
            "Accept-Ranges": "bytes",
            "ETag": f'"{hashlib.md5(repr(spec).encode()).hexdigest()}"',
            "Last-Modified": format_datetime(task.requested + task.generation, usegmt=True),
        }
        if wanted:
            headers["Content-Range"] = f"bytes {first}-{last}/{length}"
        if head:
            return Answer(206 if wanted else 200, headers)
        return Answer(206 if wanted else 200, headers, _limited(reports.stream(spec, first), last - first + 1),
                      drop_after=self._drop_after(task_id, first))

    def _drop_after(self, task_id: str, first: int) -> int | None:
        """drop_download_after_bytes cuts the first GET of a task's report that starts at byte 0."""
        limit = self.faults.current.drop_download_after_bytes
        if limit is None or first != 0:
            return None
        with self._lock:
            if task_id in self._dropped:
                return None
            self._dropped.add(task_id)
        return limit

    # --- control -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        with self._lock:
            tasks = sorted(self._tasks.values(), key=lambda task: task.requested)
            calls = dict(self._calls)
            most = self._max_in_progress
        return {
            "now": iso_millis(now),
            "tasks": [_task_state(task, now) for task in tasks],
            "calls": calls,
            "maxConcurrentInProgress": most,
            "faults": self.faults.as_dict(),
        }

    def reset(self) -> None:
        """Forget tasks, counts and faults; the clock keeps its time (it never goes back)."""
        with self._lock:
            self._tasks.clear()
            self._calls = dict.fromkeys(self._calls, 0)
            self._max_in_progress = 0
            self._dropped.clear()
        self.faults.reset()

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.faults.update(**changes)
        if "drop_download_after_bytes" in changes:
            with self._lock:
                self._dropped.clear()
        return self.faults.as_dict()

    # --- internals ---------------------------------------------------------------------------------
    def _count(self, name: str) -> None:
        with self._lock:
            self._calls[name] += 1

    def _mac(self, purpose: str, message: str) -> str:
        return hmac.new(self._key, f"{purpose}\n{message}".encode(), hashlib.sha256).hexdigest()

    def _link_signature(self, path: str, amz_date: str, expires: str) -> str:
        return self._mac("link", f"{path}\n{amz_date}\n{expires}")


class _Root:
    """GraphQL resolvers for one call; a refused call fails every field it asks for."""

    def __init__(self, api: ReportingApi, refusal: GraphQLError | None, host: str) -> None:
        self._api, self._refusal, self._host = api, refusal, host

    def _allow(self) -> None:
        if self._refusal is not None:
            raise self._refusal

    def startReportTask(self, info: Any, input: dict[str, Any]) -> dict[str, str]:
        self._allow()
        return self._api.start_report_task(input, self._api.config.target_id)

    def reportTask(self, info: Any, taskId: str) -> dict[str, str]:
        self._allow()
        return self._api.report_task(taskId)

    def reportDownloadLink(self, info: Any, taskId: str) -> dict[str, str]:
        self._allow()
        return self._api.report_download_link(taskId, self._host)


def _operation_fields(document: Any, operation_name: str | None) -> list[str]:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    return [node.name.value for node in operation.selection_set.selections
            if isinstance(node, FieldNode) and node.name.value in OPERATIONS]


def _formatted(error: GraphQLError) -> dict[str, Any]:
    if error.extensions:
        return error.formatted
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        logger.error("resolver failed", exc_info=error.original_error)
        formatted = error.formatted
        formatted["extensions"] = api_error("InternalServer", "internal error").extensions
        return formatted
    return document_error(error, "InvalidQuery")  # e.g. a variable of the wrong type


def _timestamp(window: dict[str, Any], name: str) -> datetime | None:
    value = window.get(name)
    if value is None:
        return None
    message = f"{name} {value!r} is not an ISO-8601 UTC timestamp such as 2024-08-22T00:00:00Z"
    if not _UTC_TIMESTAMP.match(value):
        raise api_error("Validation", message, code="InvalidDateFormat")
    try:
        return parse_instant(value)
    except ValueError:
        raise api_error("Validation", message, code="InvalidDateFormat") from None


def _task_state(task: Task, now: datetime) -> dict[str, Any]:
    status, updated = task.progress(now)
    return {
        "taskId": task.task_id,
        "reportType": task.report_type,
        "status": status,
        "requestTime": iso_millis(task.requested),
        "lastUpdatedTime": iso_millis(updated),
        "startDate": iso_millis(task.start),
        "endDate": iso_millis(task.end),
        "targetId": task.target_id,
        "expired": task.expired(now),
    }


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, client_secret = decoded.partition(":")
    # RFC 6749 2.3.1: both parts are form-urlencoded before being joined
    return unquote(client_id.replace("+", " ")), unquote(client_secret.replace("+", " "))


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _byte_range(header: str | None, length: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range as S3 reads it: None for a whole-file answer (absent or unreadable)."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        count = int(last)
        return (max(0, length - count), length - 1) if count and length else "unsatisfiable"
    start, end = int(first), min(int(last), length - 1) if last else length - 1
    if last and int(last) < start:
        return None
    return (start, end) if start < length else "unsatisfiable"


def _limited(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    for chunk in chunks:
        if count <= 0:
            return
        yield chunk[:count] if len(chunk) > count else chunk
        count -= len(chunk)


def _s3_error(status: int, code: str, message: str, *, details: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> Answer:
    """The XML error document S3 answers a presigned URL with."""
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in (details or {}).items())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
            f"{extra}<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>").encode()
    return Answer(status, {"Content-Type": "application/xml", **(headers or {})}, body)

"""The emulator as an HTTP server on loopback, and the handle tests and the local engine hold.

The handler only routes and moves bytes; ``emulator.service`` (a facade over auth, tasks and
downloads) decides every answer.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import sleep
from typing import Any
from urllib.parse import urlsplit

from bwp_lake.emulator.answers import Answer, error_answer, json_answer
from bwp_lake.emulator.clock import Clock, iso_millis, parse_instant
from bwp_lake.emulator.config import EmulatorConfig
from bwp_lake.emulator.faults import FaultSwitches
from bwp_lake.emulator.service import ReportingApi

logger = logging.getLogger("emulator")

MAX_REQUEST_BYTES = 1 << 20
_WRITE_CHUNK = 256 * 1024


class Emulator:
    """The Buy with Prime reporting API on a local port: ``with Emulator(config) as emu: ...``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = Clock(self.config.start_time)
        self.api = ReportingApi(self.config, self.clock, FaultSwitches(self.config.seed))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        self._server = _Server((self.config.host, self.config.port), _Handler)
        self._server.api = self.api
        self._server.log_requests = self.config.log_requests
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="bwp-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}"

    @property
    def credentials(self) -> dict[str, str]:
        """The first merchant's credentials (the only one's, unless several are configured)."""
        return self.config.merchants[0].credentials

    @property
    def all_credentials(self) -> list[dict[str, str]]:
        """Every merchant's credentials, in the configured order."""
        return [merchant.credentials for merchant in self.config.merchants]

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    def advance_to(self, instant: datetime) -> datetime:
        return self.clock.advance_to(instant)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Partial update of the fault switches; ValueError for an unknown name or a bad value."""
        return self.api.set_faults(changes)

    def state(self) -> dict[str, Any]:
        return self.api.state()

    def reset(self) -> None:
        self.api.reset()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    api: ReportingApi
    log_requests: bool


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    disable_nagle_algorithm = True  # headers and body go out in separate writes: do not hold the second
    server: _Server

    def version_string(self) -> str:
        return "bwp-emulator"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body()
        if body is None:
            self._send(error_answer(413, f"request bodies are limited to {MAX_REQUEST_BYTES} bytes"), method)
            self.close_connection = True
            return
        api = self.server.api
        if not url.path.startswith("/_emulator/") and (latency := api.faults.current.latency_ms):
            sleep(latency / 1000)
        self._send(self._answer(api, method, url.path, url.query, body), method)

    def _answer(self, api: ReportingApi, method: str, path: str, query: str, body: bytes) -> Answer:
        headers = {name.lower(): value for name, value in self.headers.items()}
        host = headers.get("host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        match method, path:
            case "POST", "/token":
                return api.token(body, headers.get("authorization"))
            case "POST", "/graphql":
                return api.graphql(body, headers, host)
            case "GET" | "HEAD", _ if path.startswith("/downloads/"):
                return api.download(path, query, headers.get("range"), head=method == "HEAD")
            case _ if path.startswith("/_emulator/"):
                return control(api, method, path.removeprefix("/_emulator/"), body)
        return error_answer(404, f"no route for {method} {path}")

    def _body(self) -> bytes | None:
        """The request body; None when it is too big (or its length unreadable) to accept."""
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isdigit() else MAX_REQUEST_BYTES + 1
        if length > MAX_REQUEST_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, answer: Answer, method: str) -> None:
        self.send_response(answer.status)
        headers = dict(answer.headers)
        if isinstance(answer.body, bytes):
            headers.setdefault("Content-Length", str(len(answer.body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if method == "HEAD":
            return
        if isinstance(answer.body, bytes):
            self.wfile.write(answer.body)
            return
        try:
            self._stream(answer)
        except ConnectionError:
            self.close_connection = True  # the client went away mid-body

    def _stream(self, answer: Answer) -> None:
        budget = answer.drop_after
        pending: list[bytes] = []
        size = 0
        for chunk in answer.body:
            if budget is not None:
                chunk = chunk[:budget]
                budget -= len(chunk)
            pending.append(chunk)
            size += len(chunk)
            if size >= _WRITE_CHUNK:
                self.wfile.write(b"".join(pending))
                pending, size = [], 0
            if budget == 0:
                break
        if pending:
            self.wfile.write(b"".join(pending))
        if budget is not None and budget <= 0:
            # drop_download_after_bytes: fewer bytes than Content-Length, then the connection closes
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            logger.info("%s %s", self.address_string(), format % args)


def control(api: ReportingApi, method: str, name: str, body: bytes) -> Answer:
    """``/_emulator/*``: the clock, the fault switches, the state, reset."""
    try:
        request = json.loads(body) if body else {}
    except ValueError:
        return error_answer(400, "the request body is not JSON")
    if not isinstance(request, dict):
        return error_answer(400, "expected a JSON object")
    try:
        match method, name:
            case "GET", "clock":
                return json_answer(200, {"now": iso_millis(api.clock.now())})
            case "POST", "clock":
                return json_answer(200, {"now": iso_millis(_move_clock(api.clock, request))})
            case "GET", "faults":
                return json_answer(200, api.faults.as_dict())
            case "POST", "faults":
                return json_answer(200, api.set_faults(request))
            case "GET", "state":
                return json_answer(200, api.state())
            case "POST", "reset":
                api.reset()
                return json_answer(200, api.state())
    except ValueError as error:
        return error_answer(400, str(error))
    return error_answer(404, f"no control endpoint {method} /_emulator/{name}")


def _move_clock(clock: Clock, request: dict[str, Any]) -> datetime:
    if set(request) == {"advance_seconds"}:
        seconds = request["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError("advance_seconds must be a number")
        return clock.advance(seconds)
    if set(request) == {"advance_to"} and isinstance(request["advance_to"], str):
        return clock.advance_to(parse_instant(request["advance_to"]))
    raise ValueError('expected {"advance_seconds": N} or {"advance_to": "<ISO-8601 UTC>"}')

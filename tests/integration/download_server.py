"""A loopback HTTP server that plays a presigned download URL, with switchable misbehaviour."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

S3_EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


@dataclass
class ReportServer:
    """Serves ``bodies[0]`` (then ``bodies[1]``... one per response) at /report.csv?token=T."""

    bodies: list[bytes] = field(default_factory=lambda: [b""])
    serves_left: dict[str, int] = field(default_factory=dict)  # token -> answers before it expires
    refusal: tuple[int, bytes] = (403, S3_EXPIRED)
    cuts: list[int] = field(default_factory=list)  # per response: drop the connection after N bytes
    stall_seconds: float = 0.0  # before dropping a cut connection
    busy: int = 0  # answer 503 this many times first
    ignore_range: bool = False
    chunk: int = 0  # chunked transfer encoding in pieces of this size (0: Content-Length)
    redirect_to: str = ""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (path, token, Range)
    port: int = 0

    def url(self, token: str = "1", host: str = "127.0.0.1", path: str = "/report.csv") -> str:
        return f"http://{host}:{self.port}{path}?token={token}&X-Amz-Signature=secret"

    def body(self) -> bytes:
        return self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]


class _DownloadHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        report: ReportServer = self.server.report  # type: ignore[attr-defined]
        parsed = urlsplit(self.path)
        token = parse_qs(parsed.query).get("token", [""])[0]
        report.requests.append((parsed.path, token, self.headers.get("Range")))
        if parsed.path == "/redirect":
            return self._answer(302, b"", {"Location": report.redirect_to})
        left = report.serves_left.get(token)
        if left is not None:
            if left <= 0:
                return self._answer(report.refusal[0], report.refusal[1], {"Content-Type": "application/xml"})
            report.serves_left[token] = left - 1
        if report.busy:
            report.busy -= 1
            return self._answer(503, b"<Error><Code>SlowDown</Code></Error>", {})
        body, start = report.body(), 0
        status, headers = 200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}
        requested = self.headers.get("Range")
        if requested and not report.ignore_range:
            start = int(requested.removeprefix("bytes=").removesuffix("-"))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        payload = body[start:]
        cut = report.cuts.pop(0) if report.cuts else None
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if report.chunk:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = payload[:cut]
            for offset in range(0, len(sent), report.chunk):
                piece = sent[offset : offset + report.chunk]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if cut is None:
                self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[:cut])
        if cut is not None:
            self.wfile.flush()
            time.sleep(report.stall_seconds)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving() -> Iterator[ReportServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _DownloadHandler)
    httpd.daemon_threads = True
    report = ReportServer(port=httpd.server_address[1])
    httpd.report = report  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield report
    finally:
        httpd.shutdown()
        httpd.server_close()

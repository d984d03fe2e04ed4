"""Loopback ports in front of the emulator: one that can refuse connections, as a host that is
down does; one that answers some requests with a page echoing them, as some gateways do."""

from __future__ import annotations

import contextlib
import html
import http.client
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

_ACCEPT_POLL_SECONDS = 0.05
_PIPE_BYTES = 64 * 1024


class Gate:
    """Forwards TCP connections from its own port to ``target_url`` while open; closed, nothing
    listens on the port, so a connection is refused, and the connections it carried are cut."""

    def __init__(self, target_url: str) -> None:
        target = urlsplit(target_url)
        self._target = (target.hostname, target.port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()

    def open(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = socket.create_server(("127.0.0.1", self.port))
                self._listener.settimeout(_ACCEPT_POLL_SECONDS)
                threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        for sock in (listener, *sockets):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> Gate:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            upstream = socket.create_connection(self._target, timeout=10)
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_PIPE_BYTES):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()


Answer = Literal["forward", "echo", "refuse"]
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
_FORWARD_TIMEOUT_SECONDS = 30.0


class EchoingGateway:
    """An HTTP gateway in front of ``target_url``. ``answer(path, body)`` picks, per request:
    ``forward`` it, ``echo`` it (200 and an HTML page showing the request, as a misconfigured
    gateway or WAF does), or ``refuse`` it (401, as for a revoked token).
    ``tokens`` are the access tokens the API issued through it, ``echoed`` the paths it echoed."""

    def __init__(self, target_url: str, answer: Callable[[str, bytes], Answer]) -> None:
        target = urlsplit(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 80)
        self._answer = answer
        self.tokens: list[str] = []
        self.echoed: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> EchoingGateway:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                gateway._serve(self)

            def do_POST(self) -> None:
                gateway._serve(self)

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        path = urlsplit(request.path).path
        answer = self._answer(path, body)
        if answer == "echo":
            self.echoed.append(path)
            page = f"<html><body><pre>{html.escape(_request_dump(request, body))}</pre></body></html>"
            return _reply(request, 200, {"Content-Type": "text/html"}, page.encode())
        if answer == "refuse":
            return _reply(request, 401, {"Content-Type": "application/json"}, b'{"message": "Unauthorized"}')
        connection = http.client.HTTPConnection(*self._target, timeout=_FORWARD_TIMEOUT_SECONDS)
        try:
            headers = {name: value for name, value in request.headers.items() if name.lower() != "host"}
            connection.request(request.command, request.path, body=body, headers=headers)
            response = connection.getresponse()
            answered = response.read()
            kept = {name: value for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP}
        finally:
            connection.close()
        if path == "/token" and response.status == 200:
            self.tokens.append(json.loads(answered)["access_token"])
        _reply(request, response.status, kept, answered)


def _request_dump(request: BaseHTTPRequestHandler, body: bytes) -> str:
    """As a debugging page shows a request: its line, its form fields, its headers by name, its body."""
    form = request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
    text = body.decode("utf-8", "replace")
    headers = "\n".join(f"{name}: {value}" for name, value in sorted(request.headers.items()))
    return "\n".join([request.requestline, *([text] if form else []), headers, *([] if form else [text])])


def _reply(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)

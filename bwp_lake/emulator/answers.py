"""What the emulator answers a request with, free of HTTP: ``emulator.server`` only moves the bytes."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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


def load_balancer_error() -> Answer:
    return Answer(500, {"Content-Type": "text/html"}, HTTP_500_BODY)


def same(given: str, expected: str) -> bool:
    """Compared in constant time: a secret or a signature."""
    return hmac.compare_digest(given.encode(), expected.encode())

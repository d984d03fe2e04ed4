"""The one redactor every text passes before it leaves the process.

Error messages become the execution's cause (readable by anyone who may describe the execution),
log lines go to CloudWatch, failure causes to the task ledger, and an upstream may echo anything
we sent it. So the redactor knows the live secrets: the credentials code registers the client
secret when it reads it, the client every token it is issued and every download link's query.
Each is registered with the encodings it travels in (a form value, a URL, a JSON or an HTML
string), since an echo shows it encoded as it was sent. Pattern rules are the second net, for
what was never registered here: another process's token, a signature in a link we never saw.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

REDACTED = "<redacted>"
# Shorter values cannot be told apart from ordinary words; the pattern rules still catch them
# where they stand as a credential (client_secret=..., Bearer ...).
MIN_SECRET_CHARS = 8
# A link's query values this long are signatures, credentials or session tokens, not flags.
MIN_LINK_VALUE_CHARS = 16
# A warm Lambda is issued a token every quarter of an hour: the oldest values are long expired.
MAX_REGISTERED = 512
EXCERPT_CHARS = 200

_ENCODINGS: tuple[Callable[[str], str], ...] = (
    lambda value: quote_plus(value, safe=""),  # a form value
    lambda value: quote(value, safe=""),  # a URL path or query value
    lambda value: json.dumps(value)[1:-1],  # inside a JSON string
    lambda value: json.dumps(value, ensure_ascii=False)[1:-1],
    html.escape,  # shown on an HTML page
)

_CREDENTIAL_NAMES = (
    r"client_?secret|access_?token|refresh_?token|id_?token|password|"
    r"x-amz-(?:signature|credential|security-token)|signature|sig|key-pair-id|policy"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # An Authorization header or its value: "Bearer <token>", "Basic <base64>".
    (re.compile(r"\b(Bearer|Basic)(\s+|%20|\+)[\w.~+/=-]{8,}", re.IGNORECASE), rf"\1\2{REDACTED}"),
    # A form or query field: client_secret=..., X-Amz-Signature=... (also HTML-escaped, after &amp;).
    (re.compile(rf"(?<![\w-])({_CREDENTIAL_NAMES})(=|%3D)[^&\s\"'<>\\]+", re.IGNORECASE), rf"\1\2{REDACTED}"),
    # A JSON member, in plain or escaped JSON: "access_token": "...".
    (
        re.compile(
            rf"((?:\\*\"|&quot;)(?:{_CREDENTIAL_NAMES})(?:\\*\"|&quot;)\s*:\s*(?:\\*\"|&quot;))"
            r"[^\"\\&]+",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    # A URL's query string: a presigned URL's signature, whatever its signer names it.
    (re.compile(r"\?[^\s'\"()<>]+"), f"?{REDACTED}"),
)


class SecretRegistry:
    """The secrets this process has learned, each with its encodings.

    The client secret stays for the life of the process; tokens and links expire, so the oldest of
    them make room once ``capacity`` forms are held.
    """

    def __init__(self, capacity: int = MAX_REGISTERED) -> None:
        self._capacity = capacity
        self._lasting: set[str] = set()
        self._expiring: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._forms: tuple[str, ...] = ()  # longest first

    def register(self, secret: str, *, lasting: bool = False, min_chars: int = MIN_SECRET_CHARS) -> None:
        if len(secret) < min_chars:
            return
        forms = {secret} | {encode(secret) for encode in _ENCODINGS}
        forms |= {encode(form) for form in tuple(forms) for encode in _ENCODINGS}  # e.g. a form value on a page
        with self._lock:
            if lasting:
                self._lasting |= forms
            else:
                for form in forms - self._lasting:
                    self._expiring[form] = None
                    self._expiring.move_to_end(form)
                while len(self._expiring) > self._capacity:
                    self._expiring.popitem(last=False)
            # Longest first, so that an encoded form is replaced whole, not the raw value inside it.
            self._forms = tuple(sorted(self._lasting | self._expiring.keys(), key=len, reverse=True))

    def register_link(self, url: str) -> None:
        """A download link: its whole query and every value in it long enough to be a signature."""
        query = urlsplit(url).query
        if query:
            self.register(query)
            for _, value in parse_qsl(query):
                self.register(value, min_chars=MIN_LINK_VALUE_CHARS)

    @property
    def longest(self) -> int:
        forms = self._forms
        return len(forms[0]) if forms else 0

    def redact(self, text: str) -> str:
        # str.replace per form, not one regular expression of them all: an alternation of
        # hundreds of literals is tried at every position of the text.
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        for rule, replacement in _PATTERNS:
            text = rule.sub(replacement, text)
        return text


secrets = SecretRegistry()


def register_secret(value: str, *, lasting: bool = False) -> None:
    """``lasting``: a credential the process keeps (the client secret), never made room for."""
    secrets.register(value, lasting=lasting)


def register_link(url: str) -> None:
    secrets.register_link(url)


def redact(text: str) -> str:
    return secrets.redact(text)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of what an upstream answered, redacted first and then cut.

    Only a window of a long text is redacted; a secret cut in two at the window's end can no longer
    be told, so the window widens until that end lies beyond what is shown.
    """
    window = limit * 16
    while True:
        redacted = redact(text[:window])
        if window >= len(text) or len(redacted) >= limit + secrets.longest:
            return redacted[:limit]
        window *= 4


def redact_payload(value: Any) -> Any:
    """Every string in a JSON-like value, redacted; the structure as it was."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_payload(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_payload(item) for item in value]
    return value


def redacted_error(error: Exception) -> Exception:
    """``error`` with its message redacted, under the same class name (the ASL's ``ErrorEquals``)."""
    message = str(error)
    clean = redact(message)
    if clean == message:
        return error
    error.args = (clean,)
    if str(error) == clean:
        return error
    # An exception that builds its message from fields of its own: the same name, the clean message.
    return type(type(error).__name__, (Exception,), {"__module__": type(error).__module__})(clean)

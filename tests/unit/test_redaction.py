"""The one redactor: the live secrets in every encoding they travel in, and pattern rules as the second net."""

from __future__ import annotations

import html
import io
import json
from urllib.parse import quote, quote_plus

import pytest
from bwp import errors, redaction
from bwp.observability import logger, observed
from bwp.redaction import REDACTED, SecretRegistry

from bwp_lake.local.lambda_runtime import LambdaContext

SECRET = 'k3y/with+sp"ci@l&chars=='
TOKEN = "eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl"
CONTEXT = LambdaContext("bwp-redaction-test")
# The handlers here add no metrics; Powertools says so when it flushes.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def encodings(value: str) -> dict[str, str]:
    return {
        "raw": value,
        "form value": quote_plus(value),
        "url": quote(value, safe=""),
        "json string": json.dumps(value)[1:-1],
        "html page": html.escape(value),
        "form value on an html page": html.escape(quote_plus(value)),
        "json on an html page": html.escape(json.dumps(value)[1:-1]),
    }


@pytest.mark.parametrize(("form", "shown"), list(encodings(SECRET).items()))
def test_a_registered_secret_is_redacted_in_every_encoding_an_echo_shows_it_in(form, shown):
    # given a registry that knows the client secret
    registry = SecretRegistry()
    registry.register(SECRET, lasting=True)
    # when a text shows it, encoded as an echo would
    text = f"<pre>grant_type=client_credentials&amp;secret {shown} end</pre>"
    # then it is gone, and the text around it stays
    redacted = registry.redact(text)
    assert shown not in redacted
    assert redacted.startswith("<pre>grant_type=client_credentials") and redacted.endswith(" end</pre>")
    assert REDACTED in redacted


def test_a_secret_that_was_never_registered_is_not_guessed_at_outside_a_credential_pattern():
    # given an empty registry, then the secret is kept in prose (the registry is what knows it) ...
    registry = SecretRegistry()
    assert registry.redact(f"value {TOKEN} seen") == f"value {TOKEN} seen"
    # ... and once registered it is redacted wherever it stands
    registry.register(TOKEN)
    assert registry.redact(f"value {TOKEN} seen") == f"value {REDACTED} seen"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Authorization: Bearer {TOKEN}", "Authorization: Bearer "),
        ("authorization: basic Y2xpZW50OnNlY3JldA==", "authorization: basic "),
        ("grant_type=client_credentials&client_secret=abc%2Fdef&client_id=me", "client_secret="),
        ('{"access_token": "abc.def", "expires_in": 900}', '"access_token": "'),
        ('{\\"clientSecret\\":\\"abc\\"}', '\\"clientSecret\\":\\"'),
        ("&lt;a href=&quot;x&quot;&gt; &quot;access_token&quot;: &quot;abc.def&quot;", "&quot;access_token&quot;"),
        ("GET /r.csv X-Amz-Signature=0123456789abcdef&amp;X-Amz-Credential=AKIA%2F2024", "X-Amz-Signature="),
        ("see https://bucket.s3.amazonaws.com/r.csv?X-Amz-Signature=abc&b=c now", "r.csv?"),
    ],
)
def test_credentials_nobody_registered_are_caught_by_their_patterns(text, kept):
    redacted = SecretRegistry().redact(text)
    assert kept in redacted and REDACTED in redacted
    for value in ("abc", TOKEN, "Y2xpZW50OnNlY3JldA==", "0123456789abcdef", "AKIA"):
        assert value not in redacted, redacted


def test_ordinary_sentences_are_left_alone():
    registry = SecretRegistry()
    registry.register(SECRET, lasting=True)
    for text in (
        "Missing bearer token: send Authorization: Bearer <access token>",
        "report task 7f3c FAILED: is it ready? no",
        "basic checks passed",
    ):
        assert registry.redact(text) == text


def test_a_short_value_is_not_registered_but_a_link_signature_is():
    registry = SecretRegistry()
    registry.register("abc")
    registry.register_link("https://b.s3.amazonaws.com/r.csv?X-Amz-Expires=300&X-Amz-Signature=" + "f" * 64)
    assert registry.redact("abc 300") == "abc 300"
    assert registry.redact("sig " + "f" * 64) == f"sig {REDACTED}"


def test_tokens_make_room_but_the_client_secret_stays():
    # given a registry that holds few forms, the client secret, and many tokens issued since
    registry = SecretRegistry(capacity=8)
    registry.register(SECRET, lasting=True)
    tokens = [f"token-number-{n:04d}" for n in range(20)]
    for token in tokens:
        registry.register(token)
    # then the latest tokens and the secret are still known; the oldest tokens made room
    redacted = registry.redact(" ".join([SECRET, tokens[-1], tokens[0]]))
    assert redacted == f"{REDACTED} {REDACTED} {tokens[0]}"


def test_an_excerpt_is_short_and_redacted_even_when_a_secret_straddles_the_first_window(monkeypatch):
    # given a long token, echoed line after line, so that the body shrinks to a few lines when
    # redacted and the first window of it ends in the middle of a token
    token = "tok_" + "Zx9" * 66
    registry = SecretRegistry()
    registry.register(token)
    monkeypatch.setattr(redaction, "secrets", registry)
    window = redaction.EXCERPT_CHARS * 16
    body = "." * 12 + f"{token}\n" * 40
    assert token.startswith(body[:window].rsplit("\n", 1)[1])
    # when it is excerpted
    shown = redaction.excerpt(body)
    # then no piece of the token is shown, and it is as long as the limit
    assert shown == ("." * 12 + f"{REDACTED}\n" * 40)[: redaction.EXCERPT_CHARS]


class EchoedSecret(errors.BwpError):
    pass


def test_a_handler_error_leaves_redacted_under_its_own_name(monkeypatch):
    # given a process that knows its client secret, and a handler whose error carries it
    registry = SecretRegistry()
    registry.register(SECRET, lasting=True)
    monkeypatch.setattr(redaction, "secrets", registry)

    @observed
    def handler(event, context):
        raise EchoedSecret(f"token: HTTP 200 with a body that is not JSON: client_secret={quote_plus(SECRET)}")

    # when it is invoked
    with pytest.raises(EchoedSecret) as raised:
        handler({}, CONTEXT)
    # then the error keeps its name (the ASL's ErrorEquals) and loses the secret
    assert quote_plus(SECRET) not in str(raised.value)
    assert str(raised.value) == f"token: HTTP 200 with a body that is not JSON: client_secret={REDACTED}"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_an_error_that_builds_its_own_message_leaves_redacted_under_its_own_name(monkeypatch):
    registry = SecretRegistry()
    registry.register(TOKEN)
    monkeypatch.setattr(redaction, "secrets", registry)

    class Formatted(Exception):
        def __str__(self) -> str:
            return f"refused {TOKEN}"

    with pytest.raises(Exception) as raised:  # noqa: PT011 - the class is made anew, by name
        observed(lambda event, context: (_ for _ in ()).throw(Formatted()))({}, CONTEXT)
    assert type(raised.value).__name__ == "Formatted"
    assert str(raised.value) == f"refused {REDACTED}"


def test_a_handler_result_leaves_redacted(monkeypatch):
    registry = SecretRegistry()
    registry.register(TOKEN)
    monkeypatch.setattr(redaction, "secrets", registry)
    result = observed(lambda event, context: {"lines": [f"x: Bearer {TOKEN}"], "rows": 3})({}, CONTEXT)
    assert result == {"lines": [f"x: Bearer {REDACTED}"], "rows": 3}


def test_a_log_line_leaves_redacted_whatever_field_carries_the_secret(monkeypatch):
    # given the functions' logger writing to a buffer, and a registered secret
    registry = SecretRegistry()
    registry.register(SECRET, lasting=True)
    monkeypatch.setattr(redaction, "secrets", registry)
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.stream
    handler.setStream(buffer)
    try:
        # when the secret is logged in the message, in an extra field, and in an exception
        logger.warning(f"echo {SECRET}", extra={"body": f"client_secret={quote_plus(SECRET)}"})
        try:
            raise ValueError(SECRET)
        except ValueError:
            logger.exception("failed")
    finally:
        handler.setStream(previous)
    lines = buffer.getvalue()
    # then no line holds it in any form
    assert lines.count("\n") == 2
    for shown in encodings(SECRET).values():
        assert shown not in lines
    assert json.loads(lines.splitlines()[0])["message"] == f"echo {REDACTED}"

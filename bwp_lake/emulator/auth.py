"""``POST /token`` and the bearer tokens it issues; the key that signs tokens and download links."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote

from bwp_lake.emulator.answers import Answer, json_answer, load_balancer_error, same
from bwp_lake.emulator.clock import Clock
from bwp_lake.emulator.config import EmulatorConfig
from bwp_lake.emulator.faults import FaultSwitches


class Signer:
    """The emulator's secret key: tokens and links are signed, not stored."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def sign(self, purpose: str, message: str) -> str:
        return hmac.new(self._key, f"{purpose}\n{message}".encode(), hashlib.sha256).hexdigest()


class Auth:
    """OAuth 2.0 client credentials in, signed bearer tokens out, and the check every API call makes."""

    def __init__(self, config: EmulatorConfig, clock: Clock, faults: FaultSwitches, signer: Signer) -> None:
        self.config, self.clock, self.faults, self._signer = config, clock, faults, signer

    def token(self, body: bytes, authorization: str | None) -> Answer:
        if self.faults.roll("http_500_rate"):
            return load_balancer_error()
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        basic = _basic_credentials(authorization)
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            error = "unsupported_grant_type" if "grant_type" in form else "invalid_request"
            return json_answer(400, {"error": error, "error_description": "grant_type must be client_credentials"})
        if not (same(client_id, self.config.client_id) and same(client_secret, self.config.client_secret)):
            challenge = {"WWW-Authenticate": 'Basic realm="bwp"'} if basic else {}
            return json_answer(
                401, {"error": "invalid_client", "error_description": "client authentication failed"}, **challenge
            )
        lifetime = self.faults.current.token_expiry_seconds
        expires = self.clock.now() + timedelta(seconds=lifetime)
        token = self._sign_token(client_id, expires)
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        return json_answer(200, payload, **{"Cache-Control": "no-store"})

    def _sign_token(self, client_id: str, expires: datetime) -> str:
        claims = base64.urlsafe_b64encode(json.dumps({"sub": client_id, "exp": expires.timestamp()}).encode())
        return f"{claims.decode()}.{self._signer.sign('token', claims.decode())}"

    def token_problem(self, authorization: str | None) -> str | None:
        """Why the bearer token is refused, or None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Missing bearer token: send Authorization: Bearer <access token>"
        claims, _, signature = token.strip().partition(".")
        if not same(signature, self._signer.sign("token", claims)):
            return "The access token is not valid"
        expires = json.loads(base64.urlsafe_b64decode(claims))["exp"]
        if self.clock.now().timestamp() >= expires:
            return "The access token has expired"
        return None


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

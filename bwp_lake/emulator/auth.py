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
from bwp_lake.emulator.config import EmulatorConfig, Merchant
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
        self._by_client = {merchant.client_id: merchant for merchant in config.merchants}
        self._by_target = {merchant.target_id: merchant for merchant in config.merchants}

    def token(self, body: bytes, authorization: str | None) -> tuple[Answer, str | None]:
        """The answer, and the target id of the merchant it granted a token to (None when refused)."""
        if self.faults.roll("http_500_rate"):
            return load_balancer_error(), None
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        basic = _basic_credentials(authorization)
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            error = "unsupported_grant_type" if "grant_type" in form else "invalid_request"
            answer = json_answer(400, {"error": error, "error_description": "grant_type must be client_credentials"})
            return answer, None
        merchant = self._by_client.get(client_id)
        if merchant is None or not same(client_secret, merchant.client_secret):
            challenge = {"WWW-Authenticate": 'Basic realm="bwp"'} if basic else {}
            answer = json_answer(
                401, {"error": "invalid_client", "error_description": "client authentication failed"}, **challenge
            )
            return answer, None
        lifetime = self.faults.current.token_expiry_seconds
        expires = self.clock.now() + timedelta(seconds=lifetime)
        token = self._sign_token(merchant, expires)
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        return json_answer(200, payload, **{"Cache-Control": "no-store"}), merchant.target_id

    def _sign_token(self, merchant: Merchant, expires: datetime) -> str:
        # bound to the merchant whose credentials asked for it: its target id is the only one it may use
        claims = {"sub": merchant.client_id, "tid": merchant.target_id, "exp": expires.timestamp()}
        encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
        return f"{encoded}.{self._signer.sign('token', encoded)}"

    def caller(self, authorization: str | None) -> Merchant:
        """The merchant the bearer token was issued to; TokenRefused says why it is not accepted."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRefused("Missing bearer token: send Authorization: Bearer <access token>")
        claims, _, signature = token.strip().partition(".")
        if not same(signature, self._signer.sign("token", claims)):
            raise TokenRefused("The access token is not valid")
        decoded = json.loads(base64.urlsafe_b64decode(claims))
        if self.clock.now().timestamp() >= decoded["exp"]:
            raise TokenRefused("The access token has expired")
        return self._by_target[decoded["tid"]]  # signed here, so it names a merchant served here


class TokenRefused(Exception):
    """A GraphQL call's bearer token is missing, forged or expired."""


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

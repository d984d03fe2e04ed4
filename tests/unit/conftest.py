"""The unit tests' fixtures: a moto account and what lives in it; no network and no servers, which
a socket refused in every unit test holds them to (tests/integration has the servers)."""

import socket

import pytest

from tests.moto_account import aws, s3, state_table  # noqa: F401 - fixtures


class NetworkInUnitTest(AssertionError):
    """A unit test connected or listened on a socket: it belongs in tests/integration."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch) -> None:
    def refuse(sock: socket.socket, address: object, *args: object) -> None:
        raise NetworkInUnitTest(f"unit tests use no network: {address!r}")

    for method in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, method, refuse)

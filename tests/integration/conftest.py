"""Integration tests: our code against servers the tests start on loopback (the emulator, a
download server), with moto for AWS."""

from tests.moto_account import aws, s3, state_table  # noqa: F401 - fixtures

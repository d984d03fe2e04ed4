"""The unit tests' fixtures: a moto account and what lives in it (no network, no servers)."""

from tests.moto_account import aws, s3, state_table  # noqa: F401 - fixtures

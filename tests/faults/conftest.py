"""Fault classes on the local engine: the real ASL against an emulator that fails on demand."""

from tests.twin import emulator, engine_for, two_store_emulator  # noqa: F401 - the fixtures of every engine test

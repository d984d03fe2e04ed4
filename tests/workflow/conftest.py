"""The ASL on the local engine, against the emulator: what a run in AWS would do, offline."""

from tests.twin import emulator, engine_for, two_store_emulator  # noqa: F401 - the fixtures of every engine test

"""A local emulator of the Buy with Prime reporting API: OAuth, GraphQL, report tasks, downloads.

Start it with ``bwp-lake emulator`` or, in-process, ``with Emulator(EmulatorConfig()) as emu:``.
See emulator/README.md for its rules, clock and fault switches.
"""

from bwp_lake.emulator.config import EmulatorConfig
from bwp_lake.emulator.server import Emulator

__all__ = ["Emulator", "EmulatorConfig"]

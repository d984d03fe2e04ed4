"""How an emulator is set up: data volume, generation speed, where it listens, its credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

DEFAULT_PORT = 8450
MAX_ROWS_PER_DAY = 100_000_000


@dataclass(frozen=True)
class EmulatorConfig:
    seed: int = 7  # the data: same seed, same reports
    rows_per_day: int = 2000  # CSV rows per report type and UTC day
    generation_seconds: float = 30.0  # time to generate one day of 2,000 rows (see README)
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    client_id: str = "local-client"
    client_secret: str = "local-secret"
    target_id: str = "local-target"
    start_time: datetime | None = None  # the clock's first reading; default: real UTC now
    log_requests: bool = False  # one log line per request (the CLI turns it on)

    def __post_init__(self) -> None:
        if not 0 <= self.rows_per_day <= MAX_ROWS_PER_DAY:
            raise ValueError(f"rows_per_day must be between 0 and {MAX_ROWS_PER_DAY:,}, got {self.rows_per_day}")
        if self.generation_seconds < 0:
            raise ValueError(f"generation_seconds must be >= 0, got {self.generation_seconds}")
        if not 0 <= self.port <= 65_535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")

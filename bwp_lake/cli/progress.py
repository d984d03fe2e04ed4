"""How long work shows its progress: lines that stay, and one counter of the windows.

On a terminal the counter is one line, redrawn in place (rich's Live) below the lines that stay.
Elsewhere (a log, a pipe, CI) it is printed as a line of its own only when another tenth of the
windows is done, or when it changed and a minute went by without one: a log of 400 windows
stays a dozen lines long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.text import Text

MILESTONES = 10  # a line each time another tenth of the windows is done
QUIET_SECONDS = 60.0  # and one after a minute without a line, if anything changed
REDRAWS_PER_SECOND = 4


@dataclass(frozen=True)
class WindowCounts:
    """Where the windows are. ``landed`` and ``failed`` are None where the source cannot tell
    them apart (a map run counts a window whose failure was recorded as a child that succeeded)."""

    total: int
    done: int
    in_progress: int
    landed: int | None = None
    failed: int | None = None
    waiting_for_slot: int = 0
    retrying: int = 0

    def text(self) -> str:
        parts = [f"windows: {self.done} of {self.total} done"]
        if self.landed is not None and self.failed is not None:
            parts[0] += f" ({self.landed} landed, {self.failed} failed)"
        parts.append(f"{self.in_progress} in progress")
        if self.waiting_for_slot:
            parts.append(f"{self.waiting_for_slot} waiting for a slot")
        if self.retrying:
            parts.append(f"{self.retrying} retrying")
        return ", ".join(parts)


class ProgressDisplay:
    """``line`` prints a line that stays; ``update`` sets the counter; ``close`` ends the display
    (on a terminal the counter's last state stays on screen). ``elapsed`` says how much time the
    counter shows as gone by (API time on the local twin), e.g. ``"1m 05s of API time"``."""

    def __init__(
        self,
        console: Console,
        elapsed: Callable[[], str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._elapsed = elapsed
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: WindowCounts | None = None
        self._live: Live | None = None
        self._milestone = -1
        self._last_printed: tuple[WindowCounts, float] | None = None

    @property
    def on_terminal(self) -> bool:
        return self._console.is_terminal

    def line(self, text: str) -> None:
        with self._lock:
            if self._live is not None:
                self._live.console.print(Text(text), soft_wrap=True)
            else:
                # Not through rich: a log line is the text as it is, never wrapped at 80 columns.
                self._console.file.write(text + "\n")
                self._console.file.flush()

    def update(self, counts: WindowCounts) -> None:
        with self._lock:
            self._counts = counts
            if self.on_terminal:
                if self._live is None:
                    self._live = Live(
                        self, console=self._console, refresh_per_second=REDRAWS_PER_SECOND, transient=False
                    )
                    self._live.start()
                return
            milestone = counts.done * MILESTONES // max(counts.total, 1)
            now = self._clock()
            quiet_for = None if self._last_printed is None else now - self._last_printed[1]
            changed = self._last_printed is None or self._last_printed[0] != counts
            if milestone > self._milestone or (changed and quiet_for is not None and quiet_for >= QUIET_SECONDS):
                self._milestone = max(milestone, self._milestone)
                self._last_printed = (counts, now)
                self._console.file.write(self.counter_text() + "\n")
                self._console.file.flush()

    def close(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.stop()
                self._live = None

    def counter_text(self) -> str:
        if self._counts is None:
            return ""
        elapsed = self._elapsed() if self._elapsed else ""
        return self._counts.text() + (f"; {elapsed}" if elapsed else "")

    def __rich__(self) -> Text:
        # Drawn anew at every redraw, so the time shown goes on while nothing else changes.
        return Text(self.counter_text(), no_wrap=True, overflow="ellipsis")


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"

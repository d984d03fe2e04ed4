"""What a report type is: its columns, each saying how its values are made.

A report is a sequence of *units* (an order and its fee rows, or one user event). Values come in
two kinds, and the split is what keeps reports flat and seekable (see ``emulator.reports``):

- fixed width, unique to a unit: ``Key`` (an id from the unit's key, a bijection of its index),
  ``Stamp`` (the unit's timestamp, or a row's: the unit's plus the row's delay) and ``RowKey``
  (an id from the unit's key and the row's own, or a fixed text on a row without one);
- variable width, ``Drawn`` from the day's seeded RNG into a pool of shapes that units cycle over.

A report type whose drawn values are independent gives each ``Drawn`` column its own ``draw``;
one whose values hang together (a fee computed from the order's amount, a URL from the event's
type) draws a unit's rows at once with ``draw_unit``, returning each row's drawn values in column
order. ``Groups`` makes units of several rows with a closing unit that fills the day exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Draw:
    """What drawing a unit may read: the day's seeded RNG (draw from nothing else), the day, the seed."""

    rng: random.Random
    day: date
    seed: int


@dataclass(frozen=True)
class Row:
    """One drawn row: its ``Drawn`` columns' values in column order, and what its row values read."""

    values: tuple[str, ...]
    delay: int = 0  # ticks after the unit's timestamp, for Stamp(delayed=True)
    key: int | None = None  # what RowKey makes its value from; None: the column's absent text


@dataclass(frozen=True)
class Key:
    """Unique to the unit: ``make(key)`` of its 59-bit key, the same width for every key."""

    make: Callable[[int], str]


@dataclass(frozen=True)
class RowKey:
    """Unique to the row: ``make(unit key, row.key)``, the same width for every key; ``absent`` on a row
    whose key is None."""

    make: Callable[[int, int], str]
    absent: str


@dataclass(frozen=True)
class Stamp:
    """The unit's timestamp (ISO-8601 UTC); ``delayed``: the row's, ``row.delay`` ticks later but never
    past the window's end."""

    delayed: bool = False


@dataclass(frozen=True)
class Drawn:
    """Variable width, drawn once per shape: by ``draw`` or, when None, by the type's ``draw_unit``."""

    draw: Callable[[Draw], str] | None = None


@dataclass(frozen=True)
class Column:
    name: str
    value: Key | RowKey | Stamp | Drawn


@dataclass(frozen=True)
class Groups:
    """Units of several rows: each drawn unit has ``min_rows`` to ``max_rows`` rows, and ``closing(draw, n)``
    draws the unit of exactly ``n`` rows (1 <= n < min_rows + max_rows) that ends a day on rows_per_day."""

    min_rows: int
    max_rows: int
    closing: Callable[[Draw, int], tuple[Row, ...]]


@dataclass(frozen=True, eq=False)
class ReportType:
    """One report type: the one entry to write to add one (see ``emulator.report_types``)."""

    name: str
    columns: tuple[Column, ...]
    whole_seconds: bool = False  # timestamps to the second ("...:05Z"), else to the millisecond (".123Z")
    draw_unit: Callable[[Draw], tuple[Row, ...]] | None = None  # None: one row, each Drawn column draws
    groups: Groups | None = None  # None: a unit is one row

    def __post_init__(self) -> None:
        undrawn = [
            column.name for column in self.columns if isinstance(column.value, Drawn) and column.value.draw is None
        ]
        if self.draw_unit is None and undrawn:
            raise ValueError(
                f"report type {self.name}: columns {', '.join(undrawn)} have no draw and the type has no draw_unit"
            )
        if self.groups is not None and self.draw_unit is None:
            raise ValueError(f"report type {self.name}: units of several rows need a draw_unit")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def draw(self, draw: Draw) -> tuple[Row, ...]:
        """One unit's rows."""
        if self.draw_unit is not None:
            return self.draw_unit(draw)
        return (Row(tuple(column.value.draw(draw) for column in self.columns if isinstance(column.value, Drawn))),)

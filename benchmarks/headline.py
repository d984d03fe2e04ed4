"""The targets the headline figures are held to, and the table BENCHMARKS.md opens with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    key: str  # the figure's key in the final JSON line
    label: str
    unit: str  # one of FORMATS
    limit: float | None = None  # None: reported, not held to a target
    at_least: bool = False  # the value must reach the limit (else stay at or under it)

    def met(self, value: float) -> bool | None:
        if self.limit is None:
            return None
        return value >= self.limit if self.at_least else value <= self.limit

    def shortfall(self, value: float) -> float:
        """How far the value is on the wrong side of the limit (0 when met)."""
        if self.limit is None:
            return 0.0
        gap = self.limit - value if self.at_least else value - self.limit
        return max(0.0, gap)

    def describe_limit(self) -> str:
        if self.limit is None:
            return "-"
        return ("≥ " if self.at_least else "≤ ") + format_value(self.limit, self.unit)


FORMATS = {
    "MiB": "{:.0f} MiB",
    "ratio": "{:.2f}x",
    "share": "{:.2f}",
    "percent": "{:.0%}",
    "count": "{:.0f}",
    "mean": "{:.1f}",
    "usd": "${:.6f}",
    "seconds": "{:.2f} s",
}


def format_value(value: float, unit: str) -> str:
    return FORMATS[unit].format(value)


TARGETS = (
    Target("landing_peak_rss_mb_1gb", "landing peak RSS, largest report", "MiB", 100),
    Target("landing_rss_growth_mb", "landing peak RSS growth, 10 MB to largest report", "MiB", 32),
    Target("landing_vs_zlib", "landing speed / zlib alone, same bytes and level", "ratio", 0.8, at_least=True),
    Target("landing_vs_naive_min", "landing speed / naive, slowest size", "ratio", 1.0, at_least=True),
    Target(
        "curated_vs_arrow",
        "typed conversion speed / pyarrow's CSV-to-Parquet with inferred types",
        "ratio",
        0.8,
        at_least=True,
    ),
    Target(
        "land_and_curate_vs_landing",
        "land step speed (raw and curated) / landing alone, largest report",
        "ratio",
        0.5,
        at_least=True,
    ),
    Target("backfill_slot_utilization", "backfill slot utilization (5 slots)", "share", 0.85, at_least=True),
    Target("backfill_failed_windows", "backfill failed windows", "count", 0),
    Target("backfill_utilization_at_concurrency_2", "API's 5 slots' utilization at maxConcurrency 2", "share"),
    Target(
        "polling_overhead_share", "polling overhead (report completed -> landing started) / generation", "percent", 0.10
    ),
    Target("polls_per_window", "polls per window", "mean"),
    Target("state_transitions_per_window", "state transitions per window", "mean"),
    Target("cost_per_window_usd", "cost per window", "usd", 0.001),
    Target(
        "stores_min_slot_utilization",
        "3 stores side by side: lowest store's slot utilization",
        "share",
        0.85,
        at_least=True,
    ),
    Target("stores_failed_windows", "3 stores side by side: failed windows", "count", 0),
    Target("stores_cost_per_window_vs_one_store", "3 stores: cost per window / one store's", "ratio", 1.05),
    Target(
        "stores_failed_windows_beside_broken_store", "healthy stores' failed windows beside a broken one", "count", 0
    ),
    Target(
        "stores_time_beside_broken_store", "healthy stores' API time beside a broken store / without it", "ratio", 1.10
    ),
    Target("commit_seconds_first", "commit of 30 days x 2 types x 3 stores, first", "seconds"),
    Target("commit_seconds_restated", "commit of the same days, restated", "seconds"),
    Target("iceberg_vs_hive_bytes", "named queries' bytes read, Iceberg / Hive Parquet", "ratio"),
    Target("iceberg_vs_hive_seconds", "named queries' time, Iceberg (pyiceberg + DuckDB) / Hive (DuckDB)", "ratio"),
)


def headline_table(values: dict[str, float], reasons: dict[str, str]) -> list[str]:
    """One row per target: its value, its limit, and met, or missed by how much and why."""
    lines = ["| metric | value | target | met / missed |", "| --- | ---: | ---: | --- |"]
    for target in TARGETS:
        value = values[target.key]
        met = target.met(value)
        if met is None:
            verdict = "-"
        elif met:
            verdict = "met"
        else:
            verdict = f"missed by {format_value(target.shortfall(value), target.unit)}"
            if reasons.get(target.key):
                verdict += f": {reasons[target.key]}"
        lines.append(
            f"| {target.label} (`{target.key}`) | {format_value(value, target.unit)} "
            f"| {target.describe_limit()} | {verdict} |"
        )
    return lines

"""Every benchmark, each in its own process; writes benchmarks/BENCHMARKS.md (a quick run writes
build/BENCHMARKS-quick.md) and prints the headline figures, the last line of stdout being one JSON
object of them.

    python -m benchmarks.run            # make bench: reports up to 1 GB, about 12 minutes on two cores
    python -m benchmarks.run --quick    # make bench-quick: the largest landing 100 MiB, about 2 minutes

Each piece prints its tables and, last, one JSON line of what it measured; this collects them.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, machine
from benchmarks.headline import TARGETS, headline_table
from benchmarks.workflow_metrics import (
    LAMBDA_GB_SECOND_USD,
    LAMBDA_REQUEST_USD,
    PRICE_DATE,
    STATE_TRANSITION_USD,
)

DOCUMENT = ROOT / "benchmarks" / "BENCHMARKS.md"
# The Iceberg piece's figures in the headline (no targets): commit times, Iceberg against Hive Parquet.
ICEBERG_KEYS = ("commit_seconds_first", "commit_seconds_restated", "iceberg_vs_hive_bytes", "iceberg_vs_hive_seconds")
# Only the full run writes the tracked document; a quick run's figures are for a look, kept out of git.
QUICK_DOCUMENT = ROOT / "build" / "BENCHMARKS-quick.md"
# What the file keeps from one run to the next: the hand-written account of each piece.
DETAILS_HEADING = "## Each piece in detail"
PIECE_TIMEOUT_SECONDS = 900
LAMBDA_TIMEOUT_SECONDS = 900
ONE_VCPU_MB = 1769  # Lambda's CPU share grows with memory: a whole vCPU at 1,769 MB
MEMORY_OPTIONS_MB = (1024, 1769, 3008)
# cdk's Node.js banner goes to stderr; quiet, so a failing piece's stderr is its own.
_QUIET_NODE = {
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
}


@dataclass(frozen=True)
class Piece:
    title: str
    module: str
    arguments: tuple[str, ...] = ()

    @property
    def command(self) -> str:
        return " ".join(("python -m", f"benchmarks.{self.module}", *self.arguments))


def pieces(quick: bool) -> list[Piece]:
    if quick:
        landings = [
            Piece(
                "Landing, 10 MiB",
                "landing",
                ("--size-mb", "10", "--levels", "1", "--repeat", "1", "--curated-level", "-1"),
            ),
            Piece("Landing, 100 MiB", "landing", ("--size-mb", "100", "--levels", "1", "--repeat", "1")),
        ]
        others = [
            Piece("Named queries, raw gzip CSV against the Iceberg tables, 30 days of 1 MiB", "queries", ("--quick",)),
            Piece("Iceberg tables against Hive Parquet, 30 days of 0.2 MiB", "iceberg", ("--quick",)),
            Piece("Cold start", "cold_start", ("--repeat", "2")),
            Piece("Streaming from the emulator, 100 MB", "emulator_stream", ("--size-mb", "100", "--repeat", "1")),
        ]
    else:
        landings = [
            Piece("Landing, 10 MiB", "landing", ("--size-mb", "10", "--levels", "1", "--curated-level", "-1")),
            Piece("Landing, 300 MiB", "landing"),
            Piece("Landing, 1000 MiB", "landing", ("--size-mb", "1000", "--levels", "1", "--repeat", "1")),
        ]
        others = [
            Piece("Named queries, raw gzip CSV against the Iceberg tables, 30 days of 10 MiB", "queries"),
            Piece("Iceberg tables against Hive Parquet, 30 days of 1 MiB", "iceberg"),
            Piece("Cold start", "cold_start"),
            Piece("Streaming from the emulator, 1000 MB", "emulator_stream"),
        ]
    typing = Piece("Typing speed", "typing_speed", ("--size-mb", "50", "--repeats", "3") if quick else ())
    return [*landings, typing, Piece("Backfill, 60 windows, then 3 stores side by side", "backfill"), *others]


@dataclass(frozen=True)
class PieceRun:
    piece: Piece
    tables: list[str]  # what the piece printed, less its progress lines and its JSON line
    results: dict[str, Any]
    seconds: float


def run_piece(piece: Piece) -> PieceRun:
    print(f"{piece.title}: {piece.command}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{piece.module}", *piece.arguments],
        cwd=ROOT,
        env={**os.environ, **_QUIET_NODE},
        capture_output=True,
        text=True,
        timeout=PIECE_TIMEOUT_SECONDS,
    )
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.stderr.write(finished.stdout + finished.stderr)
        raise SystemExit(f"{piece.command} failed (exit status {finished.returncode})")
    *printed, last = finished.stdout.rstrip("\n").splitlines()
    tables = [line for line in printed if not line.startswith(("machine:", "  "))]
    print(f"  {seconds:.0f} s", file=sys.stderr, flush=True)
    return PieceRun(piece, _strip_blank_edges(tables), json.loads(last), seconds)


def _strip_blank_edges(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


# --- the headline figures ------------------------------------------------------------------
def variant(landing: dict[str, Any], name: str, level: int = 1) -> dict[str, Any]:
    return next(v for v in landing["variants"] if v["variant"] == name and v["level"] == level)


def backfill_run(backfill: dict[str, Any], concurrency: int) -> dict[str, Any]:
    return next(run for run in backfill["runs"] if run["max_concurrency"] == concurrency)


def headline_values(
    landings: list[dict[str, Any]], typing: dict[str, Any], backfill: dict[str, Any]
) -> dict[str, float]:
    by_size = sorted(landings, key=lambda landing: landing["size_mb"])
    smallest, largest = variant(by_size[0], "stream"), variant(by_size[-1], "stream")
    full, limited = backfill_run(backfill, 5), backfill_run(backfill, 2)
    return {
        "landing_size_mb": by_size[-1]["size_mb"],
        "landing_peak_rss_mb_1gb": largest["peak_rss_mib"],
        "landing_rss_growth_mb": largest["peak_rss_mib"] - smallest["peak_rss_mib"],
        "landing_vs_zlib": largest["mb_s"] / by_size[-1]["zlib_mb_s"]["1"],
        "landing_vs_naive_min": min(
            variant(landing, "stream")["mb_s"] / variant(landing, "naive")["mb_s"] for landing in landings
        ),
        "curated_vs_arrow": typing["curated_vs_arrow"],
        "land_and_curate_vs_landing": variant(by_size[-1], "curated")["mb_s"] / largest["mb_s"],
        "backfill_slot_utilization": full["slot_utilization"],
        "backfill_failed_windows": full["failed_windows"],
        "backfill_utilization_at_concurrency_2": limited["api_slot_utilization"],
        "polling_overhead_share": full["polling_overhead_share"],
        "polls_per_window": full["polls_per_window"],
        "state_transitions_per_window": full["state_transitions_per_window"],
        "cost_per_window_usd": full["cost_per_window_usd"],
        **stores_values(backfill["stores"]),
    }


def stores_values(stores: dict[str, Any]) -> dict[str, float]:
    """The several stores' figures of the backfill benchmark (benchmarks/backfill.py ``stores_runs``)."""
    return {
        "stores_min_slot_utilization": stores["min_store_slot_utilization"],
        "stores_failed_windows": stores["together"]["failed_windows"],
        "stores_cost_per_window_vs_one_store": stores["cost_per_window_vs_one_store"],
        "stores_failed_windows_beside_broken_store": stores["with_broken"]["failed_windows"],
        "stores_time_beside_broken_store": stores["healthy_api_time_with_broken_store"],
    }


def miss_reasons(landings: list[dict[str, Any]], typing: dict[str, Any], backfill: dict[str, Any]) -> dict[str, str]:
    """Why a figure can be off its target, in this run's own numbers (shown only where missed)."""
    by_size = sorted(landings, key=lambda landing: landing["size_mb"])
    largest = variant(by_size[-1], "stream")
    step = variant(by_size[-1], "curated")
    full = backfill_run(backfill, 5)
    slowest = min(landings, key=lambda landing: variant(landing, "stream")["mb_s"] / variant(landing, "naive")["mb_s"])
    own_speed = by_size[-1]["bytes_in"] / 1e6 / largest["cpu_seconds"]
    waited = full["polling_overhead_share"] * full["generation_seconds_mean"]
    return {
        "landing_peak_rss_mb_1gb": (
            f"{largest['rss_before_mib']:.0f} MiB of it is the interpreter with boto3 and requests imported, before "
            f"the first byte; the landing itself adds {largest['peak_rss_mib'] - largest['rss_before_mib']:.0f} MiB"
        ),
        "landing_rss_growth_mb": "the peak grows with the report: something holds more than a part at a time",
        "landing_vs_zlib": (
            f"the report server and moto's S3 run on the same {machine()['cpus']} CPUs; the landing's own CPU time "
            f"lands {own_speed:.0f} MB per CPU-second, hashing, counting rows and uploading as well as compressing"
        ),
        "landing_vs_naive_min": (
            f"slowest at {slowest['size_mb']} MiB, where the whole landing takes "
            f"{slowest['bytes_in'] / 1e6 / variant(slowest, 'stream')['mb_s']:.2f} s: too short for download, "
            "compression and upload to overlap, and within the runs' noise"
        ),
        "curated_vs_arrow": (
            f"{typing['curated_mib_s']:.0f} MiB/s against {typing['arrow_mib_s']:.0f}: pyarrow's reader parses "
            "amounts as floats, the typing as decimals (a slower parse), and checks each value against its rule"
        ),
        "land_and_curate_vs_landing": (
            f"the land step used {step['cpu_seconds']:.1f} CPU seconds against the landing's "
            f"{largest['cpu_seconds']:.1f}, on {machine()['cpus']} CPUs shared with the report server and moto's S3"
        ),
        "backfill_slot_utilization": (
            f"a slot idles from its report's completion until the window's landing ends and the next window starts "
            f"a task: {waited:.0f} s of polling overhead on a mean generation of "
            f"{full['generation_seconds_mean'] / 60:.1f} min"
        ),
        "backfill_failed_windows": "see the backfill table's status",
        "polling_overhead_share": (
            f"{full['polls_per_window']:.1f} polls per window; the last wait overshoots the completion by "
            f"{waited:.0f} s on average (worst window {full['polling_overhead_share_max']:.0%} of its generation)"
        ),
        "cost_per_window_usd": (
            f"state transitions ${full['transitions_usd_per_window']:.6f}, Lambda "
            f"${full['lambda_usd_per_window']:.6f} per window"
        ),
    }


# --- BENCHMARKS.md -------------------------------------------------------------------------
def render(runs: list[PieceRun], values: dict[str, float], quick: bool, wall_seconds: float, kept: str) -> str:
    info = machine()
    landings = [run.results for run in runs if run.piece.module == "landing"]
    typing = next(run.results for run in runs if run.piece.module == "typing_speed")
    backfill = next(run.results for run in runs if run.piece.module == "backfill")
    command = "make bench-quick" if quick else "make bench"
    size = f"{values['landing_size_mb']:.0f} MiB"
    lines = [
        "# Benchmarks",
        "",
        f"`{command}` (`.venv/bin/python -m benchmarks.run{' --quick' if quick else ''}`) on "
        f"{datetime.now(UTC):%Y-%m-%d}, {wall_seconds / 60:.1f} minutes in all. Machine: {info['cpu']}, "
        f"{info['cpus']} CPUs, {info['memory']} RAM, Python {info['python']}, zlib {info['zlib']}.",
        "",
        (
            f"Quick run: the largest landing report is {size}, not 1 GB, and `landing_peak_rss_mb_1gb` is measured "
            f"on it (`landing_size_mb` in the JSON line); `make bench` measures 1000 MiB."
            if quick
            else f"The largest landing report is {size} (`landing_size_mb`)."
        ),
        "",
        *headline_table(values, miss_reasons(landings, typing, backfill)),
        "",
        "The JSON line `make bench` prints last holds these keys. RSS is VmHWM in MiB. Landing speeds "
        "are gzip level 1 (the landing's default), medians of the runs. `curated_vs_arrow` compares, in one "
        "process on the same CSV bytes and at the same zstd level, the typed conversion the land step runs "
        "with pyarrow's own CSV reader writing Parquet with the types it infers (see Typing speed below); "
        "`land_and_curate_vs_landing` is the land step (raw and curated objects) against the landing alone, "
        "on the largest report.",
        "",
        *workflow_section(next(run for run in runs if run.piece.module == "backfill")),
        "",
        *memory_section(landings, backfill),
        "",
        "## This run's tables",
        "",
    ]
    for run in runs:
        if run.piece.module == "backfill":
            continue
        lines += [f"### {run.piece.title}", "", f"`{run.piece.command}`, {run.seconds:.0f} s:", "", *run.tables, ""]
    return "\n".join(lines) + "\n" + kept


def workflow_section(run: PieceRun) -> list[str]:
    full = backfill_run(run.results, 5)
    memory = run.results["memory_mb"]
    return [
        "## The workflow: a backfill of 60 windows",
        "",
        f"`{run.piece.command}`, {run.seconds:.0f} s: the ASL on the local engine (moto's Step Functions, the "
        "handlers in-process) against the emulator, on API time, once with the Map's `maxConcurrency` 5 and once "
        "with 2 (the execution input's `maxConcurrency`, which the Map reads through `MaxConcurrencyPath`).",
        "",
        "- **Generation times**: ORDER_FEES typically 5 minutes, USER_EVENTS 9, each (report type, day) "
        "drawn between x0.8 and x1.25 of that, the same in every run: `benchmarks/backfill.py` wraps the "
        "emulator's task so that each takes its own time. A recent week is landed first, as the nightly "
        "schedule would have, so the backfill's waits are planned from its manifests; only the backfill is "
        "measured.",
        "- **Slot utilization**: the time each report task was in progress at the API (requested to completed, "
        "from the emulator's task list, in API time) summed, over the slots (5, or 2 at concurrency 2) times the "
        "execution's duration in API time. `of 5 slots` divides by the API's five at either concurrency.",
        "- **Polling overhead**: per window, from its manifest's timings, (landing started - report completed) / "
        "generation time; the mean over windows (and the worst).",
        "- **State transitions**: every state entered plus every retry, counted from moto's histories of the "
        "execution and of the Distributed Map's child executions (kept as moto records them; it drops the "
        "children's once the Map ends).",
        "- **Lambda**: each handler call timed in-process, billed per started millisecond at the memory "
        "`bwp_lake/infra/workflow.py` gives its function ("
        + ", ".join(f"{step} {mb} MB" for step, mb in memory.items())
        + "). In-process calls skip the network between Lambda and the API, S3 and DynamoDB, and cold starts: "
        "in AWS each call is longer, which the Lambda share below would scale with.",
        "",
        *run.tables,
        "",
        f"Prices (us-east-1 list prices as of {PRICE_DATE}; free tiers left out): Step Functions Standard "
        f"${STATE_TRANSITION_USD * 1000:.3f} per 1,000 state transitions; Lambda arm64 "
        f"${LAMBDA_GB_SECOND_USD:.10f} per GB-second and ${LAMBDA_REQUEST_USD * 1e6:.2f} per million requests. "
        f"Per window at concurrency 5: {full['state_transitions_per_window']:.1f} transitions "
        f"(${full['transitions_usd_per_window']:.6f}), {full['invocations'] / full['windows']:.1f} invocations and "
        f"{full['lambda_gb_seconds'] / full['windows']:.3f} GB-s (${full['lambda_usd_per_window']:.6f}): "
        f"${full['cost_per_window_usd']:.6f} in all. State transitions are "
        f"{full['transitions_usd_per_window'] / full['cost_per_window_usd']:.0%} of it, and each poll costs three "
        "(Wait, Check report, Report ready?): the cost of a window is mostly how often it polls.",
    ]


def memory_section(landings: list[dict[str, Any]], backfill: dict[str, Any]) -> list[str]:
    """land_report's memory and the largest report it can take, projected from CPU seconds."""
    largest = max(landings, key=lambda landing: landing["size_mb"])
    megabytes = largest["bytes_in"] / 1e6
    landing, step = variant(largest, "stream"), variant(largest, "curated")
    configured = backfill["memory_mb"]["land_report"]

    def projected_mb_s(measured: dict[str, Any], memory_mb: int) -> float:
        """MB/s at ``memory_mb``: MB of CSV per CPU-second (what one whole vCPU lands, CPU-bound
        as it is here) times the vCPUs it gets, up to as many cores as it kept busy here (the
        landing compresses and uploads in threads of its own; the curated write has one)."""
        per_cpu_second = megabytes / measured["cpu_seconds"]
        cores = max(1.0, measured["cpu_seconds"] / (megabytes / measured["mb_s"]))
        return per_cpu_second * min(memory_mb / ONE_VCPU_MB, cores)

    def step_mb_s(memory_mb: int) -> float:
        return projected_mb_s(step, memory_mb)

    rows = [
        "| land_report memory | vCPU | land step MB/s | 1 GB report s | GB-s per GB | USD per GB | "
        "largest report in 15 min |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for memory_mb in sorted({configured, *MEMORY_OPTIONS_MB}):
        speed = step_mb_s(memory_mb)
        seconds = 1000 / speed
        gbs = memory_mb / 1024 * seconds
        mark = " (configured)" if memory_mb == configured else ""
        rows.append(
            f"| {memory_mb}{mark} | {memory_mb / ONE_VCPU_MB:.2f} | {speed:.0f} | {seconds:.0f} | {gbs:.1f} "
            f"| ${gbs * LAMBDA_GB_SECOND_USD:.5f} | {speed * LAMBDA_TIMEOUT_SECONDS / 1000:.0f} GB |"
        )
    ceiling = step_mb_s(configured) * LAMBDA_TIMEOUT_SECONDS / 1000
    return [
        "## land_report's memory, and scale on paper",
        "",
        f"From the {largest['size_mb']} MiB landing above: the land step (`land_download` typing into a "
        "`CuratedStream` beside it) "
        f"used {step['cpu_seconds']:.1f} CPU seconds for {megabytes:.0f} MB of CSV "
        f"({megabytes / step['cpu_seconds']:.0f} MB per CPU-second; the landing alone "
        f"{megabytes / landing['cpu_seconds']:.0f}), and peaked at "
        f"{step['peak_rss_mib']:.0f} MiB (the landing alone {landing['peak_rss_mib']:.0f} MiB). It is CPU-bound "
        "(zlib and the Parquet casts, in two threads), and Lambda's CPU share is proportional to memory, one "
        "vCPU at 1,769 MB. "
        "Projected below from those CPU seconds (x86 here, arm64 in Lambda: estimates, not measurements in Lambda):",
        "",
        *rows,
        "",
        f"- **Memory is not the constraint**: {step['peak_rss_mib']:.0f} MiB at its peak, flat with the report's "
        f"size, in {configured} MB. Up to 1,769 MB a CPU-bound step costs the same GB-seconds at any memory (twice "
        "the memory, twice the CPU, half the time), so memory buys time at no cost until one vCPU; beyond it only "
        "the second thread's share helps and GB-seconds grow.",
        f"- **The choice**: {configured} MB, one vCPU: the fastest size at which a report costs no more "
        f"GB-seconds than at less memory ({step_mb_s(configured) / step_mb_s(1024):.1f} times as fast as 1024 MB, "
        "the same cost per report); past one vCPU a report costs more for little more speed. The landings in "
        "the backfill (2,000-row reports) are too small for memory to show in their cost. The other steps wait "
        "on the network (a GraphQL call, a DynamoDB write) and stay at 256 MB.",
        f"- **Scale on paper**: at {configured} MB one invocation lands and curates about {ceiling:.0f} GB of "
        f"one-day CSV in its 15 minutes ({step_mb_s(configured):.0f} MB/s); the landing alone would take about "
        f"{projected_mb_s(landing, configured) * LAMBDA_TIMEOUT_SECONDS / 1000:.0f} GB. "
        "Past it the function times out: its multipart uploads are never completed (nothing is visible, and the "
        "bucket's lifecycle rule aborts them after a day), no manifest is written, the window fails, and every "
        "later run fails the same day again, which the gap alarm and `bwp-lake gaps` show. The design has no "
        "second path for such a day: splitting it into several report tasks of part of the day each (the API "
        "takes any time range) or landing it from a container task without the 15-minute limit would be the "
        "way on.",
    ]


def kept_details() -> str:
    """The hand-written account of each piece, kept below what a run writes."""
    text = DOCUMENT.read_text() if DOCUMENT.exists() else ""
    at = text.find(DETAILS_HEADING)
    if at < 0:
        raise SystemExit(f"{DOCUMENT.relative_to(ROOT)} has no {DETAILS_HEADING!r} section to keep")
    return text[at:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller reports, fewer runs: about 2 minutes")
    parser.add_argument(
        "--output",
        type=Path,
        help=f"where to write (default {DOCUMENT.relative_to(ROOT)}; with --quick {QUICK_DOCUMENT.relative_to(ROOT)})",
    )
    args = parser.parse_args(argv)
    output = args.output or (QUICK_DOCUMENT if args.quick else DOCUMENT)
    output.parent.mkdir(parents=True, exist_ok=True)
    kept = kept_details()
    started = time.perf_counter()
    runs = [run_piece(piece) for piece in pieces(args.quick)]
    wall_seconds = time.perf_counter() - started
    landings = [run.results for run in runs if run.piece.module == "landing"]
    typing = next(run.results for run in runs if run.piece.module == "typing_speed")
    backfill = next(run.results for run in runs if run.piece.module == "backfill")
    iceberg = next(run.results for run in runs if run.piece.module == "iceberg")
    values = headline_values(landings, typing, backfill) | {key: iceberg[key] for key in ICEBERG_KEYS}
    output.write_text(render(runs, values, args.quick, wall_seconds, kept))
    for line in headline_table(values, {}):
        print(line)
    figures = {key: values[key] for key in ("landing_size_mb", *(target.key for target in TARGETS))}
    print(json.dumps(figures | {"quick": args.quick, "bench_seconds": round(wall_seconds)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

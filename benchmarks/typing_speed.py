"""Typing speed: the curated conversion against pyarrow's own streaming CSV-to-Parquet with
inferred types, on the same ORDER_FEES CSV bytes and the same compression, in one process.

    python -m benchmarks.typing_speed              # ~100 MiB, best of 5 runs each
    python -m benchmarks.typing_speed --size-mb 20 --repeats 3
"""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import date, timedelta

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from bwp.lake.schemas import ORDER_FEES
from bwp.landing.curated import PARQUET_COMPRESSION, PARQUET_COMPRESSION_LEVEL, convert

from benchmarks.common import MIB
from bwp_lake.emulator.reports import report_bytes

ROWS_PER_DAY = 20_000


def order_fees_csv(size_mb: int) -> bytes:
    """Emulated ORDER_FEES days, one header line, until ``size_mb`` MiB."""
    parts: list[bytes] = []
    size, day = 0, date(2024, 1, 1)
    while size < size_mb * MIB:
        report = b"".join(report_bytes("ORDER_FEES", day, day.toordinal(), ROWS_PER_DAY))
        parts.append(report if not parts else report.split(b"\n", 1)[1])
        size += len(parts[-1])
        day += timedelta(days=1)
    return b"".join(parts)


def curated(data: bytes) -> None:
    # The header as the landing hands it over (data.split would copy the whole report first).
    header = data[: data.index(b"\n")].decode().split(",")
    convert(io.BytesIO(data), io.BytesIO(), ORDER_FEES, header)


def arrow(data: bytes) -> None:
    reader = pa_csv.open_csv(io.BytesIO(data))
    with pq.ParquetWriter(
        io.BytesIO(), reader.schema, compression=PARQUET_COMPRESSION, compression_level=PARQUET_COMPRESSION_LEVEL
    ) as writer:
        for batch in reader:
            writer.write_batch(batch)


def best_mib_per_second(data: bytes, repeats: int) -> dict[str, tuple[float, float]]:
    """Each conversion's best MiB/s over ``repeats`` runs, by wall time and by CPU time (all of
    the process's threads). The two alternate, so that other work on the machine slows both alike."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):
        for run in (curated, arrow):
            started, cpu_started = time.perf_counter(), time.process_time()
            run(data)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            wall, cpu = best.get(run.__name__, (0.0, 0.0))
            best[run.__name__] = (max(wall, len(data) / MIB / seconds), max(cpu, len(data) / MIB / cpu_seconds))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = order_fees_csv(args.size_mb)
    best = best_mib_per_second(data, args.repeats)
    (ours, ours_cpu), (theirs, theirs_cpu) = best["curated"], best["arrow"]
    print(
        f"{len(data) / MIB:.0f} MiB of ORDER_FEES CSV in memory, one process, zstd level {PARQUET_COMPRESSION_LEVEL}; "
        f"best of {args.repeats} runs each, the two alternating"
    )
    print()
    print("| conversion | MiB/s | MiB per CPU-second |")
    print("| --- | ---: | ---: |")
    print(f"| `curated.convert`: typed by the registry | {ours:.0f} | {ours_cpu:.0f} |")
    print(f"| pyarrow's streaming CSV reader into a ParquetWriter, inferred types | {theirs:.0f} | {theirs_cpu:.0f} |")
    print()
    print(
        json.dumps(
            {
                "mib": round(len(data) / MIB, 1),
                "curated_mib_s": round(ours, 1),
                "arrow_mib_s": round(theirs, 1),
                "curated_vs_arrow": round(ours / theirs, 2),
                "curated_vs_arrow_cpu": round(ours_cpu / theirs_cpu, 2),
            }
        )
    )


if __name__ == "__main__":
    main()

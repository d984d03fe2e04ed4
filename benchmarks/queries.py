"""Query benchmark: each named query over 30 days, on the raw gzip CSV and on the curated Parquet.

One lake laid out like the bucket is generated once (report-like rows, every row distinct, so
neither gzip nor Parquet's dictionaries gain from repeats): per day a raw gzip CSV at the
landing's level and its curated file, written by ``bwp.landing.curated.convert``. For each named query:

- bytes read. Over gzip CSV a query reads every byte of every file of the report types it reads
  (gzip is not splittable and CSV has no columns to skip): the objects' sizes, as Athena bills.
  Over Parquet it reads the footer and the column chunks of the columns it names: the sum of
  those chunks' compressed sizes from each file's metadata, plus the footer;
- DuckDB's time for the query, median of ``--repeat`` runs, over the curated views as
  ``local.lake_sql`` opens them, and over the raw files typed by the same rules in SQL (DuckDB
  ``TRY_CAST``: a benchmark-only stand-in for the views as they read the raw tables before);
- whether both give the same rows.

    python -m benchmarks.queries                  # 30 days of 10 MiB per report type
    python -m benchmarks.queries --quick          # 30 days of 1 MiB: a smoke run
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from bwp.lake.partition import Partition
from bwp.lake.schemas import REGISTRY, ColumnType, snake_case
from bwp.landing.curated import convert
from bwp.landing.raw import GZIP_LEVEL

from benchmarks.common import MIB, machine
from benchmarks.landing import HEADERS, order_fees_rows, user_events_rows
from bwp_lake import athena
from bwp_lake.athena.views import PARTITION_COLUMN, REPORT_DATE_COLUMN
from bwp_lake.local.lake_sql import LakeSql

FIRST_DAY = date(2024, 8, 1)
_GENERATORS = {"ORDER_FEES": order_fees_rows, "USER_EVENTS": user_events_rows}


def build_lake(lake: Path, days: int, day_mib: float) -> dict[str, int]:
    """Raw and curated files for ``days`` days of each report type; returns the CSV bytes per type."""
    csv_bytes = {}
    for report_type, generate in _GENERATORS.items():
        schema = REGISTRY[report_type]
        header = HEADERS[report_type.lower()]
        # The generators make rows per order (ORDER_FEES) or per event: bytes per unit from a probe.
        probe = "\r\n".join(generate(random.Random(0), 100))
        units = max(1, round(day_mib * MIB / (len(probe) / 100)))
        total = 0
        for offset in range(days):
            partition = Partition(report_type, FIRST_DAY + timedelta(days=offset))
            text = (header + "\r\n" + "\r\n".join(generate(random.Random(offset), units)) + "\r\n").encode()
            total += len(text)
            raw = lake / partition.raw_key
            raw.parent.mkdir(parents=True, exist_ok=True)
            raw.write_bytes(gzip.compress(text, GZIP_LEVEL))
            curated = lake / partition.curated_key
            curated.parent.mkdir(parents=True, exist_ok=True)
            with curated.open("wb") as sink, gzip.open(raw) as source:
                convert(source, sink, schema, header.split(","))
        csv_bytes[report_type] = total
    return csv_bytes


def views_read(sql: str) -> list[str]:
    return [schema.report_type for schema in REGISTRY.values() if re.search(rf"\b{schema.view_name}\b", sql)]


def columns_named(sql: str, report_type: str) -> set[str]:
    names = {snake_case(column.name) for column in REGISTRY[report_type].columns}
    return {name for name in names if re.search(rf"\b{name}\b", sql)}


def raw_bytes(lake: Path, report_type: str) -> int:
    return sum(path.stat().st_size for path in (lake / "reports" / f"report_type={report_type}").rglob("*.csv.gz"))


def parquet_bytes(lake: Path, report_type: str, columns: set[str]) -> int:
    total = 0
    for path in (lake / "curated" / f"report_type={report_type}").rglob("*.parquet"):
        metadata = pq.ParquetFile(path).metadata
        total += metadata.serialized_size + 8  # the footer, its length and the magic
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for index in range(row_group.num_columns):
                chunk = row_group.column(index)
                if chunk.path_in_schema in columns:
                    total += chunk.total_compressed_size
    return total


def raw_typed_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    """The views, typed from the raw gzip CSV in SQL (benchmark only)."""
    db = duckdb.connect(":memory:")
    db.execute("SET TimeZone = 'UTC'")
    casts = {
        ColumnType.STRING: "NULLIF(NULLIF({0}, ''), 'N/A')",
        ColumnType.TIMESTAMP: "CAST(TRY_CAST(trim({0}) AS TIMESTAMPTZ) AS TIMESTAMP)",
        ColumnType.DECIMAL: "TRY_CAST(trim({0}) AS DECIMAL(18,2))",
        ColumnType.INTEGER: "TRY_CAST(trim({0}) AS INTEGER)",
    }
    for schema in REGISTRY.values():
        files = sorted((lake / "reports" / f"report_type={schema.report_type}").glob("dt=*/*.csv.gz"))
        listed = "[" + ", ".join(f"'{path}'" for path in files) + "]"
        select = [f'{casts[c.type].format(_quoted(c.name))} AS "{snake_case(c.name)}"' for c in schema.columns]
        select += [f'"{PARTITION_COLUMN}"', f'try_cast("{PARTITION_COLUMN}" AS date) AS "{REPORT_DATE_COLUMN}"']
        db.execute(
            f"CREATE VIEW {schema.view_name} AS SELECT {', '.join(select)} FROM read_csv({listed}, header = true, "
            "all_varchar = true, quote = '\"', escape = '\"', hive_partitioning = true, hive_types_autocast = false)"
        )
    return db


def _quoted(name: str) -> str:
    return f'"{name}"'


def timed(run, repeat: int) -> tuple[float, list]:
    seconds, rows = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queries", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--day-mib", type=float, default=10.0, help="CSV MiB per report type and day (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query and layer (default 3): the median")
    parser.add_argument("--quick", action="store_true", help="1 MiB per day, one run")
    args = parser.parse_args(argv)
    if args.quick:
        args.day_mib, args.repeat = 1.0, 1
    info = machine()
    print("machine: " + ", ".join(f"{name} {value}" for name, value in info.items()), flush=True)
    with tempfile.TemporaryDirectory(prefix="bwp-query-bench-") as directory:
        lake = Path(directory)
        started = time.perf_counter()
        csv_bytes = build_lake(lake, args.days, args.day_mib)
        print(f"  lake built in {time.perf_counter() - started:.0f} s", flush=True)
        sizes = ", ".join(
            f"{name} {size / MIB:.0f} MiB (gzip {raw_bytes(lake, name) / MIB:.1f} MiB)"
            for name, size in csv_bytes.items()
        )
        lines = [
            f"{args.days} days; CSV per report type: {sizes}"
            + f"; {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, DuckDB {duckdb.__version__}; "
            f"median of {args.repeat} runs",
            "",
            "| named query | columns read | bytes read, gzip CSV MiB | bytes read, Parquet MiB | fewer bytes "
            "| DuckDB s, CSV | DuckDB s, Parquet | faster | same rows |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        results = []
        raw_db = raw_typed_connection(lake)
        with LakeSql(lake) as curated_db:
            for query in athena.named_queries():
                types = views_read(query.sql)
                columns = {t: columns_named(query.sql, t) for t in types}
                from_csv = sum(raw_bytes(lake, t) for t in types)
                from_parquet = sum(parquet_bytes(lake, t, columns[t]) for t in types)
                csv_seconds, csv_rows = timed(lambda sql=query.sql: raw_db.execute(sql).fetchall(), args.repeat)
                parquet_seconds, parquet_rows = timed(
                    lambda name=query.name: curated_db.run_named(name)[1], args.repeat
                )
                named = ", ".join(sorted(name for t in types for name in columns[t]))
                lines.append(
                    f"| `{query.name}` | {named} | {from_csv / MIB:.1f} | {from_parquet / MIB:.2f} "
                    f"| {from_csv / from_parquet:.1f}x | {csv_seconds:.2f} | {parquet_seconds:.2f} "
                    f"| {csv_seconds / parquet_seconds:.1f}x | {'yes' if csv_rows == parquet_rows else 'NO'} |"
                )
                print(f"  {query.name}: {from_csv / from_parquet:.1f}x fewer bytes", flush=True)
                results.append(
                    {
                        "query": query.name,
                        "csv_bytes": from_csv,
                        "parquet_bytes": from_parquet,
                        "csv_seconds": csv_seconds,
                        "parquet_seconds": parquet_seconds,
                        "same_rows": csv_rows == parquet_rows,
                    }
                )
        raw_db.close()
    print()
    for line in lines:
        print(line)
    print(json.dumps({"days": args.days, "day_mib": args.day_mib, "queries": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

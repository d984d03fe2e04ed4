"""Query benchmark: each named query over 30 days, on the raw gzip CSV and on the curated tables.

One lake directory laid out like the bucket is generated once (report-like rows, every row distinct,
so neither gzip nor Parquet's dictionaries gain from repeats), one store (``default``): per report
type and day the raw gzip CSV at its key, at the landing's level, and the day's typed data file
written by ``bwp.landing.curated.convert``, every day then committed to the report type's Iceberg
table by ``bwp.iceberg.commit.replace_days`` as the twin commits it (``benchmarks.iceberg``). For
each named query:

- bytes read. Over gzip CSV a query reads every byte of every file of the report types it reads
  (gzip is not splittable and CSV has no columns to skip): the objects' sizes, as Athena bills.
  Over the Iceberg tables it reads the table's metadata (metadata file, manifest list, manifests)
  and, of each data file the current snapshot lists, the footer and the column chunks of the
  columns it names, from the files' own metadata;
- the time, median of ``--repeat`` runs: over the curated tables as ``local.lake_sql`` reads them
  (pyiceberg's scan of each table the query reads into Arrow, then DuckDB), and over the raw files
  typed by the same rules in SQL (DuckDB ``TRY_CAST``: a benchmark-only stand-in for the views as
  they read the raw tables before). A query that reads a table as it was (time travel) has no
  raw counterpart;
- whether both give the same rows.

    python -m benchmarks.queries                  # 30 days of 10 MiB per report type
    python -m benchmarks.queries --quick          # 30 days of 1 MiB: a smoke run
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
from bwp.lake.contract import REPORTS_PREFIX
from bwp.lake.partition import table_files
from bwp.lake.schemas import REGISTRY, ColumnType, snake_case
from bwp.lake.stores import DEFAULT_STORE_ID
from bwp.landing.raw import GZIP_LEVEL

from benchmarks.common import MIB, machine, timed
from benchmarks.iceberg import (
    chunk_bytes,
    columns_named,
    commit_seconds,
    iceberg_files,
    iceberg_run,
    metadata_bytes,
    report_days,
    types_read,
    write_data_file,
)
from bwp_lake import athena
from bwp_lake.athena.views import PARTITION_COLUMN, REPORT_DATE_COLUMN, STORE_COLUMN

TASK = "bench"


def build_lake(lake: Path, days: int, day_mib: float) -> dict[str, int]:
    """Every day of each report type of the default store landed in ``lake``: its raw file and its
    data file, committed to the table. Returns the CSV bytes per report type."""
    csv_bytes: Counter[str] = Counter()
    landed = {}
    # The raw files wait beside the lake until the commit is made, so that the bucket it is made in
    # need not hold them.
    served = lake.parent / "served"
    for partition, text in report_days(days, day_mib, (DEFAULT_STORE_ID,), seed=1):
        csv_bytes[partition.report_type] += len(text)
        raw = served / partition.raw_key
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_bytes(gzip.compress(text, GZIP_LEVEL))
        landed.setdefault(partition.report_type, []).append(write_data_file(lake, partition, text, TASK))
    commit_seconds(lake, landed)
    shutil.move(served / REPORTS_PREFIX, lake / REPORTS_PREFIX)
    return dict(csv_bytes)


def raw_files(lake: Path, report_type: str) -> list[Path]:
    return sorted(lake.glob(table_files(REPORTS_PREFIX, report_type, "*.csv.gz")))


def raw_bytes(lake: Path, report_type: str) -> int:
    return sum(path.stat().st_size for path in raw_files(lake, report_type))


def curated_bytes(lake: Path, report_type: str, columns: set[str]) -> tuple[int, int]:
    """What a reader of the table's current snapshot reads for ``columns``, and of it the metadata."""
    metadata = metadata_bytes(lake, report_type)
    return metadata + chunk_bytes(iceberg_files(lake, report_type), columns), metadata


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
        listed = "[" + ", ".join(f"'{path}'" for path in raw_files(lake, schema.report_type)) + "]"
        select = [f'{casts[c.type].format(_quoted(c.name))} AS "{snake_case(c.name)}"' for c in schema.columns]
        select += [
            f'"{STORE_COLUMN}"',
            f'"{PARTITION_COLUMN}"',
            f'try_cast("{PARTITION_COLUMN}" AS date) AS "{REPORT_DATE_COLUMN}"',
        ]
        db.execute(
            f"CREATE VIEW {schema.view_name} AS SELECT {', '.join(select)} FROM read_csv({listed}, header = true, "
            "all_varchar = true, quote = '\"', escape = '\"', hive_partitioning = true, hive_types_autocast = false)"
        )
    return db


def _quoted(name: str) -> str:
    return f'"{name}"'


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
        lake = Path(directory) / "lake"
        started = time.perf_counter()
        csv_bytes = build_lake(lake, args.days, args.day_mib)
        print(f"  lake built in {time.perf_counter() - started:.0f} s", flush=True)
        sizes = ", ".join(
            f"{name} {size / MIB:.0f} MiB (gzip {raw_bytes(lake, name) / MIB:.1f} MiB)"
            for name, size in csv_bytes.items()
        )
        lines = [
            f"{args.days} days, store `{DEFAULT_STORE_ID}`; CSV per report type: {sizes}"
            + f"; {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, DuckDB {duckdb.__version__}; "
            f"median of {args.repeat} runs",
            "",
            "| named query | columns read | bytes read, gzip CSV MiB | bytes read, Iceberg MiB (of it metadata) "
            "| fewer bytes | DuckDB s, CSV | pyiceberg + DuckDB s, Iceberg | faster | same rows |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        results = []
        with raw_typed_connection(lake) as raw_db:
            for query in athena.named_queries():
                report_types = types_read(query.sql)
                columns = {t: columns_named(query.sql, t) for t in report_types}
                read = [curated_bytes(lake, t, columns[t]) for t in report_types]
                from_iceberg, metadata = sum(total for total, _ in read), sum(of_it for _, of_it in read)
                iceberg_seconds, iceberg_rows = timed(
                    lambda sql=query.sql, tables=report_types: iceberg_run(lake, sql, tables), args.repeat
                )
                # Time travel reads a table as it was: the raw files have no earlier state to read.
                traveled = "FOR TIMESTAMP AS OF" in query.sql.upper()
                from_csv = None if traveled else sum(raw_bytes(lake, t) for t in report_types)
                csv_seconds, csv_rows = (
                    (None, None)
                    if traveled
                    else timed(lambda sql=query.sql: raw_db.execute(sql).fetchall(), args.repeat)
                )
                same = None if traveled else csv_rows == iceberg_rows
                named = ", ".join(sorted(name for t in report_types for name in columns[t]))
                lines.append(
                    f"| `{query.name}` | {named} | {_ratio_cell(from_csv, MIB, '.1f')} "
                    f"| {from_iceberg / MIB:.2f} ({metadata / 1024:.0f} KiB) "
                    f"| {_ratio_cell(from_csv, from_iceberg, '.1f', 'x')} | {_ratio_cell(csv_seconds, 1, '.2f')} "
                    f"| {iceberg_seconds:.2f} | {_ratio_cell(csv_seconds, iceberg_seconds, '.1f', 'x')} "
                    f"| {'n/a (time travel)' if same is None else ('yes' if same else 'NO')} |"
                )
                print(f"  {query.name}: Iceberg {iceberg_seconds:.2f} s", flush=True)
                results.append(
                    {
                        "query": query.name,
                        "csv_bytes": from_csv,
                        "iceberg_bytes": from_iceberg,
                        "iceberg_metadata_bytes": metadata,
                        "csv_seconds": csv_seconds,
                        "iceberg_seconds": iceberg_seconds,
                        "same_rows": same,
                    }
                )
    print()
    for line in lines:
        print(line)
    print(json.dumps({"days": args.days, "day_mib": args.day_mib, "queries": results}))
    return 0 if all(result["same_rows"] is not False for result in results) else 1


def _ratio_cell(value: float | None, by: float, spec: str, suffix: str = "") -> str:
    """``value / by`` formatted, or n/a where the raw files have no answer."""
    return "n/a" if value is None else f"{value / by:{spec}}{suffix}"


if __name__ == "__main__":
    raise SystemExit(main())

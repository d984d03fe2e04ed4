"""Iceberg benchmark: the commit of a run's days, and the named queries on the curated Iceberg
tables against the Hive-partitioned Parquet layer they replaced, on the same data files.

Per report type, store and day a typed data file is written as the land step writes it
(``bwp.landing.curated.convert`` from report-like CSV, every row distinct), under the table's
location. Then, on moto's S3 and the twin's SQLite catalog, as *Commit curated tables* does:

- the first commit of every day of a table (one snapshot per table), then a restatement of every
  day with new files (one OVERWRITE snapshot per table): seconds per run, both tables;
- the same current data files, hard-linked into the layout of before
  (``curated/store=<s>/report_type=<T>/dt=<D>/<file>.parquet``, read with DuckDB's
  ``read_parquet(hive_partitioning = true)``);
- each named query on both. Bytes read, as an engine that reads only the columns a query names
  (Athena) reads them: the footer and those columns' chunks of every data file, both layers; the
  Iceberg tables add their metadata (the current metadata file, the snapshot's manifest list and
  manifests). Time, median of ``--repeat`` runs: the Iceberg side as ``local.lake_sql`` reads it
  (pyiceberg's scan of each table the query reads into Arrow, then DuckDB), the Hive side DuckDB
  reading the files. The time travel query has no Hive counterpart.

    python -m benchmarks.iceberg            # 30 days x 2 report types x 3 stores, 1 MiB of CSV each
    python -m benchmarks.iceberg --quick    # 0.2 MiB each, one run
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import boto3
import duckdb
import pyarrow.parquet as pq
from bwp.iceberg.catalog import sql_catalog
from bwp.iceberg.commit import LandedDay, replace_days
from bwp.iceberg.tables import table_arrow_schema
from bwp.lake.partition import Partition
from bwp.lake.schemas import REGISTRY, snake_case
from bwp.lake.settings import Settings
from bwp.landing.curated import convert
from moto import mock_aws

from benchmarks.common import MIB, machine, timed
from benchmarks.landing import HEADERS, order_fees_rows, user_events_rows
from bwp_lake import athena
from bwp_lake.local.engine import BUCKET, REGION
from bwp_lake.local.lake_dir import CATALOG_FILE, LakeDirectory
from bwp_lake.local.lake_sql import traveled_in_time
from bwp_lake.local.lake_tables import LakeDirTables

FIRST_DAY = date(2024, 8, 1)
STORES = ("store-1", "store-2", "store-3")
_GENERATORS = {"ORDER_FEES": order_fees_rows, "USER_EVENTS": user_events_rows}


def report_days(days: int, day_mib: float, stores: tuple[str, ...], seed: int) -> Iterator[tuple[Partition, bytes]]:
    """Report-like CSV, every row distinct, of about ``day_mib`` MiB per report type, store and day."""
    for report_type, generate in _GENERATORS.items():
        header = HEADERS[report_type.lower()]
        # The generators make rows per order (ORDER_FEES) or per event: bytes per unit from a probe.
        probe = "\r\n".join(generate(random.Random(0), 100))
        units = max(1, round(day_mib * MIB / (len(probe) / 100)))
        for store_number, store in enumerate(stores):
            for offset in range(days):
                partition = Partition(store, report_type, FIRST_DAY + timedelta(days=offset))
                rows = generate(random.Random(seed * 10_000 + store_number * 1000 + offset), units)
                yield partition, (header + "\r\n" + "\r\n".join(rows) + "\r\n").encode()


def write_data_file(lake: Path, partition: Partition, text: bytes, task: str) -> LandedDay:
    """The day's typed data file as the land step writes it, at its key in ``lake``; the day to commit."""
    key = partition.curated_data_key(task)
    (lake / key).parent.mkdir(parents=True, exist_ok=True)
    with (lake / key).open("wb") as sink:
        header = HEADERS[partition.report_type.lower()].split(",")
        convert(io.BytesIO(text), sink, REGISTRY[partition.report_type], header)
    return LandedDay(partition.store, partition.day, task_id=task, raw_sha256="0" * 64, data_keys=(key,))


def write_data_files(lake: Path, days: int, day_mib: float, task: str, seed: int) -> tuple[dict, int]:
    """A typed data file per report type, store and day; the landed days per report type, and the CSV bytes."""
    landed: dict[str, list[LandedDay]] = {}
    csv_bytes = 0
    for partition, text in report_days(days, day_mib, STORES, seed):
        csv_bytes += len(text)
        landed.setdefault(partition.report_type, []).append(write_data_file(lake, partition, text, task))
    return landed, csv_bytes


def commit_seconds(lake: Path, landed: dict[str, list[LandedDay]]) -> float:
    """The lake directory put into moto's bucket, every table committed once (timed), copied back."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        directory = LakeDirectory(lake, s3, BUCKET)
        directory.load_into_bucket()
        catalog_path = lake / CATALOG_FILE
        catalog = sql_catalog(catalog_path, s3, namespace=Settings.default_of("catalog_database"), bucket=BUCKET)
        started = time.perf_counter()
        for report_type, days in landed.items():
            replace_days(catalog, report_type, days)
        seconds = time.perf_counter() - started
        directory.export_commit(catalog_path)
    return seconds


def hive_copy(lake: Path, hive: Path) -> None:
    """The tables' current data files, linked into the Hive layout the curated layer had before."""
    tables = LakeDirTables(lake)
    for report_type in REGISTRY:
        table = tables.table(report_type)
        for task in table.scan().plan_files() if table else []:
            store, day = task.file.partition[0], date(1970, 1, 1) + timedelta(days=task.file.partition[1])
            source = lake / task.file.file_path.split(f"{BUCKET}/", 1)[1]
            target = hive / "curated" / f"store={store}" / f"report_type={report_type}" / f"dt={day}" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.hardlink_to(source)


def columns_named(sql: str, report_type: str) -> set[str]:
    names = {snake_case(column.name) for column in REGISTRY[report_type].columns}
    return {name for name in names if re.search(rf"\b{name}\b", sql)}


def types_read(sql: str) -> list[str]:
    return [
        schema.report_type
        for schema in REGISTRY.values()
        if re.search(rf"\b({schema.view_name}|{schema.curated_table_name})\b", sql)
    ]


def chunk_bytes(paths: list[Path], columns: set[str]) -> int:
    """What a columnar reader reads of ``paths``: each footer and the chunks of ``columns``."""
    total = 0
    for path in paths:
        metadata = pq.ParquetFile(path).metadata
        total += metadata.serialized_size + 8  # the footer, its length and the magic
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            total += sum(
                row_group.column(index).total_compressed_size
                for index in range(row_group.num_columns)
                if row_group.column(index).path_in_schema in columns
            )
    return total


def metadata_bytes(lake: Path, report_type: str) -> int:
    """What a reader of the table's current snapshot reads before its data: the metadata file,
    the manifest list and the manifests."""
    table = LakeDirTables(lake).table(report_type)
    snapshot = table.current_snapshot() if table else None
    if table is None or snapshot is None:
        return 0
    local = [table.metadata_location, snapshot.manifest_list, *(m.manifest_path for m in snapshot.manifests(table.io))]
    return sum((lake / location.split(f"{BUCKET}/", 1)[1]).stat().st_size for location in local)


def hive_files(hive: Path, report_type: str) -> list[Path]:
    return sorted(hive.glob(f"curated/store=*/report_type={report_type}/dt=*/*.parquet"))


def iceberg_files(lake: Path, report_type: str) -> list[Path]:
    table = LakeDirTables(lake).table(report_type)
    return [
        lake / task.file.file_path.split(f"{BUCKET}/", 1)[1] for task in (table.scan().plan_files() if table else [])
    ]


def iceberg_run(lake: Path, sql: str, report_types: list[str]) -> list:
    """The query as ``local.lake_sql`` runs it: each table it reads scanned into Arrow, then DuckDB."""
    tables = LakeDirTables(lake)
    with duckdb.connect(":memory:") as db:
        db.execute("SET TimeZone = 'UTC'")
        for schema in REGISTRY.values():
            read = schema.report_type in report_types
            rows = tables.rows(schema.report_type) if read else table_arrow_schema(schema.report_type).empty_table()
            db.register(schema.curated_table_name, rows)
        for _, statement in athena.view_statements():
            db.execute(statement)
        return db.execute(traveled_in_time(db, tables, sql)).fetchall()


def hive_run(hive: Path, sql: str) -> list:
    with duckdb.connect(":memory:") as db:
        db.execute("SET TimeZone = 'UTC'")
        for schema in REGISTRY.values():
            files = f"{hive}/curated/store=*/report_type={schema.report_type}/dt=*/*.parquet"
            db.execute(
                f"CREATE VIEW {schema.curated_table_name} AS SELECT * EXCLUDE (report_type) "
                f"FROM read_parquet('{files}', hive_partitioning = true)"
            )
        for _, statement in athena.view_statements():
            db.execute(statement)
        return db.execute(sql).fetchall()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.iceberg", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--day-mib", type=float, default=1.0, help="CSV MiB per report type, store and day (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per query and layer (default 3): the median")
    parser.add_argument("--quick", action="store_true", help="0.2 MiB per report type, store and day, one run")
    args = parser.parse_args(argv)
    if args.quick:
        args.day_mib, args.repeat = 0.2, 1
    info = machine()
    print("machine: " + ", ".join(f"{name} {value}" for name, value in info.items()), flush=True)
    with tempfile.TemporaryDirectory(prefix="bwp-iceberg-bench-") as directory:
        lake, hive = Path(directory) / "lake", Path(directory) / "hive"
        first, csv_bytes = write_data_files(lake, args.days, args.day_mib, "first", seed=1)
        first_seconds = commit_seconds(lake, first)
        restated, _ = write_data_files(lake, args.days, args.day_mib, "restated", seed=2)
        restated_seconds = commit_seconds(lake, restated)
        print(f"  commits: first {first_seconds:.2f} s, restated {restated_seconds:.2f} s", flush=True)
        hive_copy(lake, hive)
        days = sum(len(landed) for landed in restated.values())
        lines = [
            f"{args.days} days x {len(_GENERATORS)} report types x {len(STORES)} stores ({days} data files a run, "
            f"{csv_bytes / MIB:.0f} MiB of CSV); {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
            f"DuckDB {duckdb.__version__}; median of {args.repeat} runs",
            "",
            f"Commit, every day of both tables, SQLite catalog on moto's S3: first {first_seconds:.2f} s, "
            f"restated (every day replaced) {restated_seconds:.2f} s.",
            "",
            "| named query | bytes read, Hive Parquet MiB | bytes read, Iceberg MiB (of it metadata) "
            "| DuckDB s, Hive | pyiceberg + DuckDB s, Iceberg | same rows |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        results = []
        for query in athena.named_queries():
            report_types = types_read(query.sql)
            columns = {t: columns_named(query.sql, t) for t in report_types}
            metadata = sum(metadata_bytes(lake, t) for t in report_types)
            from_iceberg = metadata + sum(chunk_bytes(iceberg_files(lake, t), columns[t]) for t in report_types)
            iceberg_seconds, iceberg_rows = timed(
                lambda q=query, read=report_types: iceberg_run(lake, q.sql, read), args.repeat
            )
            traveled = "FOR TIMESTAMP AS OF" in query.sql.upper()
            from_hive = None if traveled else sum(chunk_bytes(hive_files(hive, t), columns[t]) for t in report_types)
            hive_seconds, hive_rows = (
                (None, None) if traveled else timed(lambda q=query: hive_run(hive, q.sql), args.repeat)
            )
            same = None if traveled else hive_rows == iceberg_rows
            lines.append(
                f"| `{query.name}` | {'n/a' if from_hive is None else f'{from_hive / MIB:.2f}'} "
                f"| {from_iceberg / MIB:.2f} ({metadata / 1024:.0f} KiB) "
                f"| {'n/a' if hive_seconds is None else f'{hive_seconds:.2f}'} | {iceberg_seconds:.2f} "
                f"| {'n/a (time travel)' if same is None else ('yes' if same else 'NO')} |"
            )
            print(f"  {query.name}: Iceberg {iceberg_seconds:.2f} s", flush=True)
            results.append(
                {
                    "query": query.name,
                    "hive_bytes": from_hive,
                    "iceberg_bytes": from_iceberg,
                    "iceberg_metadata_bytes": metadata,
                    "hive_seconds": hive_seconds,
                    "iceberg_seconds": iceberg_seconds,
                    "same_rows": same,
                }
            )
    compared = [result for result in results if result["hive_bytes"] is not None]
    summary = {
        "commit_seconds_first": first_seconds,
        "commit_seconds_restated": restated_seconds,
        "iceberg_vs_hive_bytes": sum(r["iceberg_bytes"] for r in compared) / sum(r["hive_bytes"] for r in compared),
        "iceberg_vs_hive_seconds": sum(r["iceberg_seconds"] for r in compared)
        / sum(r["hive_seconds"] for r in compared),
    }
    lines += [
        "",
        f"Over the queries both layers answer: Iceberg reads {summary['iceberg_vs_hive_bytes']:.3f} times the "
        f"bytes and takes {summary['iceberg_vs_hive_seconds']:.2f} times the time of the Hive layer.",
    ]
    print()
    for line in lines:
        print(line)
    print(
        json.dumps({"days": args.days, "day_mib": args.day_mib, "stores": len(STORES), **summary, "queries": results})
    )
    return 0 if all(result["same_rows"] is not False for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Landing benchmark: the streaming landing against the naive read-everything approach, and the
landing with its curated Parquet write against the landing alone.

Three processes, so each one's memory is its own: a loopback server generating a large
report-like CSV, S3 played by moto in server mode, and one fresh process per landing variant,
which reports its own peak RSS (VmHWM) and CPU time.

    python -m benchmarks.landing                  # ~300 MB ORDER_FEES-like report, gzip levels 1 and 6
    python -m benchmarks.landing --size-mb 500 --levels 1,3,6 --report user_events
    python -m benchmarks.landing --quick          # 50 MB, level 1, one run each: a smoke run
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
import zlib
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bwp.lake.schemas import REGISTRY

from benchmarks.common import MIB, ROOT, free_port, machine, process, rss_kib, wait_for_port

BUCKET = "bench-lake"
KEY = "reports/report_type=BENCH/dt=2024-08-22/BENCH_2024-08-22.csv.gz"
CURATED_KEY = "curated/report_type=BENCH/dt=2024-08-22/BENCH_2024-08-22.parquet"
REGION = "us-east-1"
# Rows are generated once into a block that the server repeats: blocks far apart cannot help
# gzip (its window is 32 KiB), so the compression ratio is that of the block's rows.
BLOCK_ROWS = {"order_fees": 8_000, "user_events": 12_000}
LANDING_TIMEOUT_SECONDS = 300

# The registry's columns, so the landing checks the header as it would in production.
HEADERS = {schema.report_type.lower(): ",".join(schema.column_names) for schema in REGISTRY.values()}
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1",
)


# --- the synthetic report ------------------------------------------------------------------
def order_fees_rows(rng: random.Random, orders: int) -> list[str]:
    """Rows shaped like the seed's example: each order charged several fees."""
    rows = []
    for _ in range(orders):
        order = f"322-{rng.choice(['ABCD', 'EFGH', 'JKLM'])}-{rng.randrange(36**6):06X}"
        payment = f"P01-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}-C{rng.randrange(10**6):06d}"
        fba = f"S01-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
        hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(55)
        created = f"2024-08-22T{hour:02d}:{minute:02d}:{second:02d}Z"
        charged = f"2024-08-22T{hour:02d}:{minute:02d}:{second + 5:02d}Z"
        amount = rng.randrange(500, 30000) / 100
        fees = (
            ("ApayProcessingFee", "N/A", "0", f"{amount * 0.024:.2f}", "0"),
            ("ApayAuthorizationFee", "N/A", "0", "0.3", "0"),
            ("PrimeServiceFee", "N/A", f"{amount:.2f}", f"{amount * 0.02:.2f}", "1.8"),
            ("PrimeFulfillmentFee", str(rng.randrange(10**15)), "0", "0", f"{rng.randrange(300, 1500) / 100}"),
        )
        for fee, shipment, prime, fee_amount, credits in fees:
            rows.append(
                f"{order},{payment},{fba},{shipment},{created},{charged},{fee},USD,{prime},{fee_amount},0,0,{credits}"
            )
    return rows


def user_events_rows(rng: random.Random, count: int) -> list[str]:
    """Rows of the provisional USER_EVENTS schema: quoted user agents with commas."""
    rows = []
    for _ in range(count):
        sku = f"SKU-{rng.randrange(10**6):06d}"
        rows.append(
            ",".join(
                (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    rng.choice(("page-load", "click", "widget-viewed", "bwp-widget-promise-loaded")),
                    f"2024-08-22T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
                    "WEBSITE_CLIENT",
                    "1.4.2",
                    "bwp-user-event",
                    "1.0",
                    f"{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
                    f"{rng.randrange(10**3):03d}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}",
                    f'"{rng.choice(USER_AGENTS)}"',
                    f"https://shop.example.com/products/{sku.lower()}?variant={rng.randrange(10**5)}",
                    "https://www.google.com/",
                    sku,
                    f"2024-08-{rng.randrange(23, 28)}T00:00:00Z",
                    rng.choice(("product", "cart", "home")),
                )
            )
        )
    return rows


def report_block(report: str) -> tuple[bytes, bytes, int]:
    """(header line, block of rows, rows in the block), CRLF line ends as exports usually have."""
    rng = random.Random(20240822)
    if report == "order_fees":
        rows = order_fees_rows(rng, BLOCK_ROWS[report])
    else:
        rows = user_events_rows(rng, BLOCK_ROWS[report])
    return (HEADERS[report] + "\r\n").encode(), ("\r\n".join(rows) + "\r\n").encode(), len(rows)


def serve_report(size_mb: int, report: str) -> None:
    """Serve header + the block repeated up to ``size_mb``; prints the port, serves until killed."""
    header, block, _ = report_block(report)
    repeats = _repeats(size_mb, block)
    length = len(header) + repeats * len(block)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(header)
            for _ in range(repeats):
                self.wfile.write(block)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def _repeats(size_mb: int, block: bytes) -> int:
    return max(1, round(size_mb * MIB / len(block)))


# --- one landing, in its own process -------------------------------------------------------
def run_variant(variant: str, level: int, url: str, endpoint: str, part_mib: int, report: str) -> None:
    """Land ``url`` once; prints one JSON line with what it measured."""
    import boto3
    import requests
    from bwp.landing.raw import land_download

    if variant == "curated":
        # Imported before the clock starts, as land_report imports it at its cold start (which
        # benchmarks/cold_start.py measures), not at each landing.
        from bwp.landing.curated import CuratedStream
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    session = requests.Session()
    rss_before = rss_kib("VmRSS")
    cpu_before = time.process_time()
    started = time.perf_counter()
    curated_seconds = curated_bytes = None
    if variant == "naive":
        body = session.get(url, timeout=(5, 60)).content
        stored = gzip.compress(body, compresslevel=level)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=stored, ContentType="application/gzip")
        result = {"bytes_in": len(body), "bytes_out": len(stored), "rows": None, "parts": 1}
    else:
        curating = None
        if variant == "curated":
            # As the land step does it: the curated file typed from the text as it passes.
            curating = CuratedStream(
                s3=s3, bucket=BUCKET, key=CURATED_KEY, schema=REGISTRY[report.upper()], part_size=part_mib * MIB
            )
        landed = land_download(
            s3=s3,
            bucket=BUCKET,
            key=KEY,
            download_link=lambda: url,
            session=session,
            timeout=(5, 60),
            allowed_hosts=("127.0.0.1",),
            plain_http_on_loopback=True,
            expected_columns=tuple(HEADERS[report].split(",")),
            part_size=part_mib * MIB,
            gzip_level=level,
            also_to=curating,
        )
        result = {
            "bytes_in": landed.bytes_in,
            "bytes_out": landed.bytes_out,
            "rows": landed.rows,
            "parts": landed.parts,
        }
        if curating is not None:
            curated_started = time.perf_counter()
            written = curating.finish(landed.rows, source=KEY)
            # What the curated file adds once the raw object is landed.
            curated_seconds, curated_bytes = time.perf_counter() - curated_started, written.bytes
            if written.rows != landed.rows:
                raise RuntimeError(f"curated {written.rows} rows of {landed.rows}")
    seconds = time.perf_counter() - started
    stored_size = s3.head_object(Bucket=BUCKET, Key=KEY)["ContentLength"]
    print(
        json.dumps(
            result
            | {
                "seconds": seconds,
                "cpu_seconds": time.process_time() - cpu_before,
                "rss_before_kib": rss_before,
                "peak_rss_kib": rss_kib("VmHWM"),
                "stored_bytes": stored_size,
                "curated_seconds": curated_seconds,
                "curated_bytes": curated_bytes,
            }
        )
    )


# --- orchestration -------------------------------------------------------------------------
def zlib_speeds(report: str, levels: list[int]) -> dict[int, tuple[float, float]]:
    """zlib alone on the report's rows, one core: (MB/s, ratio) of each level."""
    _, block, _ = report_block(report)
    data = block * max(1, (64 * MIB) // len(block))
    speeds = {}
    for level in levels:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
        started = time.perf_counter()
        out = sum(len(compressor.compress(data[i : i + MIB])) for i in range(0, len(data), MIB))
        out += len(compressor.flush())
        seconds = time.perf_counter() - started
        speeds[level] = (len(data) / seconds / 1e6, len(data) / out)
    return speeds


def compression_table(speeds: dict[int, tuple[float, float]]) -> list[str]:
    """What each gzip level costs and saves."""
    lines = ["| gzip level | MB/s (one core) | ratio |", "| --- | ---: | ---: |"]
    lines += [f"| {level} | {mb_s:.0f} | {ratio:.2f} |" for level, (mb_s, ratio) in speeds.items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.landing", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="report size in MiB (default 300)")
    parser.add_argument("--report", choices=sorted(HEADERS), default="order_fees")
    parser.add_argument("--levels", default="1,6", help="gzip levels of the streaming landing (default 1,6)")
    parser.add_argument("--naive-level", type=int, default=1, help="gzip level of the naive variant (default 1)")
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (default 3): median and range")
    parser.add_argument(
        "--curated-level",
        type=int,
        default=1,
        help="gzip level of the landing followed by its curated write (default 1; -1: none)",
    )
    parser.add_argument("--quick", action="store_true", help="50 MiB, level 1, one run each")
    roles = parser.add_subparsers(dest="role", help="internal: the server and the landing processes")
    serve = roles.add_parser("serve")
    serve.add_argument("--size-mb", type=int, required=True)
    serve.add_argument("--report", required=True)
    land = roles.add_parser("land")
    for name in ("--variant", "--url", "--endpoint", "--report"):
        land.add_argument(name, required=True)
    land.add_argument("--level", type=int, required=True)
    land.add_argument("--part-mib", type=int, required=True)
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mb, args.levels, args.repeat = 50, "1", 1
    if args.role == "serve":
        serve_report(args.size_mb, args.report)
    elif args.role == "land":
        run_variant(args.variant, args.level, args.url, args.endpoint, args.part_mib, args.report)
    else:
        compare(args)
    return 0


def compare(args: argparse.Namespace) -> None:
    import boto3

    levels = [int(level) for level in args.levels.split(",")]
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION)
    info = machine()
    print("machine: " + ", ".join(f"{name} {value}" for name, value in info.items()), flush=True)
    _, block, block_rows = report_block(args.report)
    expected_rows = _repeats(args.size_mb, block) * block_rows
    with ExitStack() as stack:
        moto_port = free_port()
        stack.enter_context(process("-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)))
        serve = ["-m", "benchmarks.landing", "serve", "--size-mb", str(args.size_mb), "--report", args.report]
        server = stack.enter_context(process(*serve, stdout=subprocess.PIPE))
        url = f"http://127.0.0.1:{int(server.stdout.readline())}/report.csv"
        wait_for_port(moto_port)
        endpoint = f"http://127.0.0.1:{moto_port}"
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=BUCKET)
        results = []
        variants = [("naive", args.naive_level)] + [("stream", level) for level in levels]
        if args.curated_level >= 0:
            variants.append(("curated", args.curated_level))
        # Round after round of every variant, so that other work on the machine slows each alike.
        runs: dict[tuple[str, int], list[dict]] = {variant: [] for variant in variants}
        for _ in range(args.repeat):
            for variant, level in variants:
                land = ["-m", "benchmarks.landing", "land", "--variant", variant, "--level", str(level)]
                land += [
                    "--url",
                    url,
                    "--endpoint",
                    endpoint,
                    "--part-mib",
                    str(args.part_mib),
                    "--report",
                    args.report,
                ]
                run = _run_json(land)
                if run["rows"] not in (None, expected_rows):
                    raise RuntimeError(f"landed {run['rows']} rows, served {expected_rows}")
                runs[(variant, level)].append(run)
        for (variant, level), done in runs.items():
            results.append((variant, level, done))
            speeds = ", ".join(f"{_speed(run):.0f}" for run in done)
            print(f"  {variant} level {level}: {speeds} MB/s", flush=True)
    print()
    for line in _table(results, args, info):
        print(line)
    print()
    speeds = zlib_speeds(args.report, sorted({*levels, args.naive_level, 9}))
    for line in compression_table(speeds):
        print(line)
    print(json.dumps(_results(results, speeds, args)))


def _run_json(arguments: list[str]) -> dict:
    finished = subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LANDING_TIMEOUT_SECONDS,
        check=True,
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _results(results, speeds: dict[int, tuple[float, float]], args: argparse.Namespace) -> dict:
    """What the run measured, as one JSON object: each variant's median speed, its highest peak RSS."""
    variants = [
        {
            "variant": variant,
            "level": level,
            "mb_s": statistics.median(_speed(run) for run in runs),
            "cpu_seconds": statistics.median(run["cpu_seconds"] for run in runs),
            "rss_before_mib": max(run["rss_before_kib"] for run in runs) / 1024,
            "peak_rss_mib": max(run["peak_rss_kib"] for run in runs) / 1024,
            "curated_seconds": statistics.median(run["curated_seconds"] for run in runs)
            if variant == "curated"
            else None,
        }
        for variant, level, runs in results
    ]
    return {
        "report": args.report,
        "size_mb": args.size_mb,
        "bytes_in": results[0][2][0]["bytes_in"],
        "repeat": args.repeat,
        "variants": variants,
        "zlib_mb_s": {str(level): mb_s for level, (mb_s, _) in speeds.items()},
    }


def _speed(run: dict) -> float:
    return run["bytes_in"] / run["seconds"] / 1e6


def _table(results, args, info) -> list[str]:
    """One row per variant: median speed (and range) over the runs, the highest peak RSS."""
    summary = []
    for variant, level, runs in results:
        speeds = sorted(_speed(run) for run in runs)
        median = statistics.median(speeds)
        peak = max(run["peak_rss_kib"] for run in runs) / 1024
        summary.append((variant, level, runs, median, speeds, peak))
    naive_speed, naive_peak = summary[0][3], summary[0][5]
    lines = [
        f"{args.report} report, {summary[0][2][0]['bytes_in'] / MIB:.0f} MiB of CSV; "
        "loopback HTTP -> landing -> moto S3 server; "
        f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, zlib {info['zlib']}; "
        f"{args.repeat} runs each: median MB/s (range), highest peak RSS",
        "",
        "| variant | gzip level | MB/s | vs naive | CPU s | RSS before MiB | peak RSS MiB | vs naive "
        "| stored MiB | ratio | parts | curated s after raw | curated MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, level, runs, median, speeds, peak in summary:
        run = runs[0]
        name = _VARIANT_NAMES[variant]
        curated = (
            f"{statistics.median(r['curated_seconds'] for r in runs):.1f} | {run['curated_bytes'] / MIB:.1f}"
            if variant == "curated"
            else "- | -"
        )
        lines.append(
            f"| {name} | {level} | {median:.0f} ({speeds[0]:.0f}-{speeds[-1]:.0f}) | {median / naive_speed:.2f}x "
            f"| {run['cpu_seconds']:.1f} | {run['rss_before_kib'] / 1024:.0f} | {peak:.0f} | {peak / naive_peak:.2f}x "
            f"| {run['stored_bytes'] / MIB:.1f} | {run['bytes_in'] / run['stored_bytes']:.2f} | {run['parts']} "
            f"| {curated} |"
        )
    return lines


_VARIANT_NAMES = {
    "naive": "naive: `.content`, `gzip.compress`, `put_object`",
    "stream": "`land_download`",
    "curated": "`land_download` typing into a `CuratedStream`",
}


if __name__ == "__main__":
    raise SystemExit(main())

"""Emulator download benchmark: a one-day report streamed from the emulator against a bare HTTP server.

For each report type, two servers run side by side, each in its own process, and this process
is the client, downloading with ``requests`` (``iter_content`` in 1 MiB chunks, counting bytes):

- the emulator (``python -m bwp_lake.cli.main emulator``, what ``bwp-lake emulator`` runs), with the rows
  per day that make a one-day report of about ``--size-mb``, and generation_seconds 0. Each run
  asks for a token, starts a one-day task with the API documentation's StartReportTask document
  (``bwp.client.START_REPORT_TASK``), polls ReportTask until COMPLETED, asks for the download link
  and downloads the whole report;
- the baseline: a ThreadingHTTPServer that serves the same number of bytes, a fixed 1 MiB block
  repeated, with Content-Length. It generates nothing, so it is the upper bound of Python's HTTP
  stack (server and client) on this machine.

Speeds are MB/s (10^6 bytes) of the download alone (the GET to its last byte). Peak RSS is each
server process's VmHWM, read after its downloads and before it is stopped.

    python -m benchmarks.emulator_stream                    # both report types, ~1000 MB each
    python -m benchmarks.emulator_stream --size-mb 300 --reports ORDER_FEES --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from benchmarks.common import MIB, machine, process, rss_kib

if TYPE_CHECKING:
    import requests

# requests, bwp.client and bwp_lake.emulator.reports are imported where they are used, so that the
# baseline server process holds only the standard library's HTTP server: its RSS is the floor.

REPORT_TYPES = ("ORDER_FEES", "USER_EVENTS")
DAY = date(2024, 8, 22)  # the documentation example's day; any day has data
TARGET_MB_S = 50  # the emulator's spec: a report must stream from it at 50 MB/s or more
PROBE_ROWS = 100_000  # bytes per row are measured at this volume, then scaled
TIMEOUT = (5, 60)
POLLS = 50
MB = 1e6


# --- the baseline server, in its own process -------------------------------------------------
def serve_baseline(length: int) -> None:
    """Serve ``length`` bytes (a 1 MiB block repeated) to every GET; prints the port, serves until killed."""
    block = bytes(range(256)) * (MIB // 256)
    whole, rest = divmod(length, MIB)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the emulator

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            for _ in range(whole):
                self.wfile.write(block)
            self.wfile.write(block[:rest])

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


# --- sizing ----------------------------------------------------------------------------------
def _spec(report_type: str, seed: int, rows_per_day: int):
    from bwp_lake.emulator.reports import ReportSpec

    midnight = datetime.combine(DAY, datetime.min.time(), UTC)
    return ReportSpec(report_type, midnight, midnight + timedelta(days=1), seed, rows_per_day)


def rows_for_size(report_type: str, size_mb: float, seed: int) -> tuple[int, int]:
    """(rows per day, exact report bytes) for a one-day report of about ``size_mb`` MB.

    The emulator's sizes are arithmetic on the day's layout, so this costs milliseconds.
    """
    from bwp_lake.emulator.reports import report_length

    per_row = report_length(_spec(report_type, seed, PROBE_ROWS)) / PROBE_ROWS
    rows = max(1, round(size_mb * MB / per_row))
    return rows, report_length(_spec(report_type, seed, rows))


# --- the client: this process ----------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def download(session: requests.Session, url: str, server_pid: int) -> dict:
    """GET ``url`` to its last byte, 1 MiB at a time, counting bytes: speed and CPU on both sides."""
    server_cpu = _cpu_seconds(server_pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    with session.get(url, stream=True, timeout=TIMEOUT) as response:
        response.raise_for_status()
        length = int(response.headers["Content-Length"])
        received = sum(len(chunk) for chunk in response.iter_content(MIB))
    seconds = time.perf_counter() - started
    if received != length:
        raise RuntimeError(f"{url}: received {received} bytes, Content-Length {length}")
    return {
        "bytes": received,
        "seconds": seconds,
        "client_cpu": time.process_time() - client_cpu,
        "server_cpu": _cpu_seconds(server_pid) - server_cpu,
    }


class EmulatorClient:
    """Token, StartReportTask, ReportTask, reportDownloadLink: the calls a download needs."""

    def __init__(self, session: requests.Session, base_url: str, credentials: dict[str, str]) -> None:
        self.session, self.base_url, self.credentials = session, base_url, credentials
        answer = session.post(
            f"{base_url}/token",
            data={
                "grant_type": "client_credentials",
                "client_id": credentials["client id"],
                "client_secret": credentials["client secret"],
            },
            timeout=TIMEOUT,
        )
        answer.raise_for_status()
        self.headers = {
            "Authorization": f"Bearer {answer.json()['access_token']}",
            "x-api-target-id": credentials["target id"],
        }

    def _graphql(self, operation: str, document: str, field: str) -> dict:
        answer = self.session.post(
            f"{self.base_url}/graphql",
            json={"query": document, "operationName": operation},
            headers=self.headers,
            timeout=TIMEOUT,
        )
        answer.raise_for_status()
        payload = answer.json()
        if payload.get("errors"):
            raise RuntimeError(f"{operation}: {payload['errors']}")
        return payload["data"][field]

    def report_url(self, report_type: str) -> str:
        """Start a one-day task of ``DAY``, wait for it, and return its download link."""
        from bwp.client import REPORT_DOWNLOAD_LINK, REPORT_TASK, START_REPORT_TASK, graphql_string

        start = datetime.combine(DAY, datetime.min.time(), UTC)
        document = START_REPORT_TASK % {
            "start": graphql_string(start.strftime("%Y-%m-%dT%H:%M:%SZ")),
            "end": graphql_string((start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")),
            "report_type": graphql_string(report_type),
        }
        task_id = graphql_string(self._graphql("StartReportTask", document, "startReportTask")["taskId"])
        for _ in range(POLLS):
            status = self._graphql("ReportTask", REPORT_TASK % {"task_id": task_id}, "reportTask")["status"]
            if status == "COMPLETED":
                break
            if status == "FAILED":
                raise RuntimeError(f"report task {task_id} FAILED")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"report task {task_id} still {status} after {POLLS} polls")
        link = self._graphql("Query", REPORT_DOWNLOAD_LINK % {"task_id": task_id}, "reportDownloadLink")
        return link["downloadUrl"]


def _emulator_banner(child: subprocess.Popen) -> tuple[str, dict[str, str]]:
    """Base URL and credentials from what ``bwp-lake emulator`` prints when it is ready."""
    first = child.stdout.readline()
    if "listening on " not in first:
        raise RuntimeError(f"the emulator did not start (exit status {child.poll()}): {first!r}")
    base_url = first.rsplit(" ", 1)[1].strip()
    credentials = {}
    for line in child.stdout:
        if line.startswith("Ctrl-C"):
            break
        name, _, value = line.strip().partition("  ")
        if name in ("client id", "client secret", "target id"):
            credentials[name] = value.strip()
    return base_url, credentials


# --- orchestration ---------------------------------------------------------------------------
def measure(report_type: str, args: argparse.Namespace) -> dict:
    """Both servers for one report type, side by side, ``args.repeat`` downloads from each."""
    import requests

    rows, length = rows_for_size(report_type, args.size_mb, args.seed)
    emulator_args = ["-m", "bwp_lake.cli.main", "emulator", "--port", "0", "--quiet", "--seed", str(args.seed)]
    emulator_args += ["--rows-per-day", str(rows), "--generation-seconds", "0"]
    baseline_args = ["-m", "benchmarks.emulator_stream", "serve-baseline", "--bytes", str(length)]
    with (
        process(*emulator_args, stdout=subprocess.PIPE) as emulator,
        process(*baseline_args, stdout=subprocess.PIPE) as baseline,
        requests.Session() as emulator_session,
        requests.Session() as baseline_session,
    ):
        base_url, credentials = _emulator_banner(emulator)
        baseline_url = f"http://127.0.0.1:{int(baseline.stdout.readline())}/report"
        client = EmulatorClient(emulator_session, base_url, credentials)
        start_kib = {"emulator": rss_kib("VmRSS", emulator.pid), "baseline": rss_kib("VmRSS", baseline.pid)}
        runs: dict[str, list[dict]] = {"emulator": [], "baseline": []}
        for _ in range(args.repeat):
            run = download(emulator_session, client.report_url(report_type), emulator.pid)
            if run["bytes"] != length:
                raise RuntimeError(f"the emulator served {run['bytes']} bytes, expected {length}")
            runs["emulator"].append(run)
            runs["baseline"].append(download(baseline_session, baseline_url, baseline.pid))
            print(
                f"  {report_type} {length / MB:.0f} MB: emulator {_speed(runs['emulator'][-1]):.0f} MB/s, "
                f"baseline {_speed(runs['baseline'][-1]):.0f} MB/s",
                flush=True,
            )
        peak_kib = {"emulator": rss_kib("VmHWM", emulator.pid), "baseline": rss_kib("VmHWM", baseline.pid)}
    return {
        "report_type": report_type,
        "rows": rows,
        "bytes": length,
        "runs": runs,
        "start_kib": start_kib,
        "peak_kib": peak_kib,
    }


def _speed(run: dict) -> float:
    return run["bytes"] / run["seconds"] / MB


def table(results: list[dict], args: argparse.Namespace, info: dict[str, str]) -> list[str]:
    lines = [
        f"One-day reports of about {args.size_mb:g} MB (day {DAY}, seed {args.seed}), downloaded over loopback by "
        f"requests (iter_content 1 MiB, counting bytes) in the benchmark's process, each server in its own; "
        f"{info['cpus']} CPUs ({info['cpu']}), {info['memory']}, Python {info['python']}; "
        f"{args.repeat} run(s) each, alternating: median MB/s (range), mean CPU seconds per download",
        "",
        "| report | server | rows/day | MB | MB/s | vs baseline | server CPU s | client CPU s "
        "| server RSS at start MiB | server peak RSS MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        medians = {name: statistics.median(_speed(run) for run in runs) for name, runs in result["runs"].items()}
        for name in ("emulator", "baseline"):
            runs = sorted(result["runs"][name], key=_speed)
            server_cpu = statistics.mean(run["server_cpu"] for run in runs)
            client_cpu = statistics.mean(run["client_cpu"] for run in runs)
            speeds = f"{medians[name]:.0f}"
            if len(runs) > 1:
                speeds += f" ({_speed(runs[0]):.0f}-{_speed(runs[-1]):.0f})"
            rows = f"{result['rows']:,}" if name == "emulator" else "-"
            server = "emulator (`bwp-lake emulator`)" if name == "emulator" else "baseline: 1 MiB block repeated"
            lines.append(
                f"| {result['report_type']} | {server} | {rows} | {result['bytes'] / MB:.0f} | {speeds} "
                f"| {medians[name] / medians['baseline']:.2f}x | {server_cpu:.2f} | {client_cpu:.2f} "
                f"| {result['start_kib'][name] / 1024:.0f} | {result['peak_kib'][name] / 1024:.0f} |"
            )
    return lines


def target_line(results: list[dict], target: float) -> tuple[bool, str]:
    """The spec's floor against the slowest emulator run of each report type."""
    verdicts = []
    for result in results:
        slowest = min(_speed(run) for run in result["runs"]["emulator"])
        verdicts.append((slowest >= target, f"{result['report_type']} {slowest:.0f} MB/s"))
    passed = all(ok for ok, _ in verdicts)
    detail = ", ".join(text for _, text in verdicts)
    verdict = "PASS" if passed else "FAIL"
    return passed, f"target: the emulator streams >= {target:g} MB/s (slowest run): {detail}: {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.emulator_stream",
        description=__doc__.split("\n\n")[0],
        epilog="About 40 seconds at the defaults on two cores.",
    )
    parser.add_argument(
        "--size-mb",
        type=float,
        default=1000,
        help="report size in MB (10^6 bytes), reached through rows per day (default 1000)",
    )
    parser.add_argument(
        "--reports",
        default=",".join(REPORT_TYPES),
        help=f"comma-separated report types (default {','.join(REPORT_TYPES)})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="downloads from each server (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="the emulator's data seed (default 7)")
    parser.add_argument(
        "--target-mb-s",
        type=float,
        default=TARGET_MB_S,
        help=f"the emulator's required speed, MB/s (default {TARGET_MB_S})",
    )
    roles = parser.add_subparsers(dest="role", help="internal: the baseline server process")
    serve = roles.add_parser("serve-baseline")
    serve.add_argument("--bytes", type=int, required=True)
    args = parser.parse_args(argv)
    if args.role == "serve-baseline":
        serve_baseline(args.bytes)
        return 0
    reports = [name.strip().upper() for name in args.reports.split(",") if name.strip()]
    unknown = sorted(set(reports) - set(REPORT_TYPES))
    if unknown or not reports or args.repeat < 1 or args.size_mb <= 0:
        parser.error(f"--reports must name {', '.join(REPORT_TYPES)}; --repeat and --size-mb must be positive")
    info = machine()
    print("machine: " + ", ".join(f"{name} {value}" for name, value in info.items()), flush=True)
    results = [measure(report_type, args) for report_type in reports]
    print()
    for line in table(results, args, info):
        print(line)
    print()
    passed, verdict = target_line(results, args.target_mb_s)
    print(verdict)
    print(
        json.dumps(
            {
                "size_mb": args.size_mb,
                "target_mb_s": args.target_mb_s,
                "passed": passed,
                "slowest_mb_s": {
                    result["report_type"]: min(_speed(run) for run in result["runs"]["emulator"]) for result in results
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

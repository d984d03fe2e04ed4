"""What the benchmarks share: the machine, timing, processes to measure, their memory, free ports."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # child processes run `-m benchmarks...` from here
MIB = 1024 * 1024
STARTUP_SECONDS = 30


def machine() -> dict[str, str]:
    """CPUs this process may use, CPU model, Python, zlib and memory: the line every table carries."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "python": platform.python_version(),
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
    }


def timed(run, repeat: int) -> tuple[float, list]:
    """The median seconds of ``repeat`` calls of ``run``, and what the last one returned."""
    seconds, rows = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), rows


def rss_kib(field: str, pid: int | str = "self") -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, in KiB, from ``/proc/<pid>/status``."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on port {port} after {STARTUP_SECONDS} s")


@contextmanager
def process(*args: str, stdout=subprocess.DEVNULL):
    """``python <args>`` from the repository root, terminated on exit; stderr is discarded."""
    child = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=stdout, stderr=subprocess.DEVNULL, text=True)
    try:
        yield child
    finally:
        child.terminate()
        child.wait(timeout=10)

"""Cold start of the land_report and commit_curated functions: their imports in fresh processes.

Measured with the development interpreter on this machine (not arm64, not in Lambda): each
variant is imported in a new process, ``--repeat`` times, and the median is shown. The
bundles' sizes (each of ``build/lambda/``: core, landing, iceberg) are read when ``make build`` has
made them.

    python -m benchmarks.cold_start
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.common import MIB, ROOT, machine

BUNDLES = ROOT / "build" / "lambda"
VARIANTS = (
    ("land_report handler (as every function imports it)", "import land_report.handler"),
    ("land_report handler + bwp.landing.curated (pyarrow)", "import land_report.handler, bwp.landing.curated"),
    ("pyarrow modules alone", "import pyarrow, pyarrow.compute, pyarrow.csv, pyarrow.parquet"),
    # The committer, the one function that loads pyiceberg: its handler imports the commit state.
    ("commit_curated handler (pyarrow and pyiceberg)", "import commit_curated.handler"),
)
# The handler reads its settings only when invoked; Powertools wants these at import.
_ENVIRONMENT = {"POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_METRICS_NAMESPACE": "bench"}
_TIMED = "import time; started = time.perf_counter(); {statement}; print(time.perf_counter() - started)"


def import_seconds(statement: str) -> float:
    environment = {**os.environ, **_ENVIRONMENT, "PYTHONPATH": str(ROOT / "lambdas")}
    finished = subprocess.run(
        [sys.executable, "-c", _TIMED.format(statement=statement)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(finished.stdout.strip())


def tree_bytes(path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="fresh processes per variant (default 7)")
    args = parser.parse_args(argv)
    info = machine()
    print(f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}; median of {args.repeat} fresh processes")
    print()
    print("| imports | seconds (median) | range |")
    print("| --- | ---: | ---: |")
    results = {"imports_seconds": {}, "bundle_bytes": {}, "pyarrow_bytes": None}
    for name, statement in VARIANTS:
        import_seconds(statement)  # the first run compiles the bytecode and warms the page cache
        runs = sorted(import_seconds(statement) for _ in range(args.repeat))
        print(f"| {name} | {statistics.median(runs):.3f} | {runs[0]:.3f}-{runs[-1]:.3f} |")
        results["imports_seconds"][name] = statistics.median(runs)
    for bundle in sorted(path for path in BUNDLES.glob("*") if path.is_dir()):
        total = tree_bytes(bundle)
        pyarrow = tree_bytes(bundle / "pyarrow") if (bundle / "pyarrow").is_dir() else 0
        print(
            f"\nbundle {bundle.relative_to(ROOT)}: {total / MIB:.1f} MiB unzipped ({total:,} bytes), "
            f"of which pyarrow {pyarrow / MIB:.1f} MiB; Lambda allows 250 MB unzipped"
        )
        results["bundle_bytes"][bundle.name] = total
        results["pyarrow_bytes"] = max(results["pyarrow_bytes"] or 0, pyarrow)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

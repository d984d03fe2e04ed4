"""``bwp-lake emulator``: the reporting API emulator in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import logging
from threading import Event

from bwp_lake.emulator.config import DEFAULT_PORT, EmulatorConfig, derived_merchants
from bwp_lake.emulator.server import Emulator


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run the Buy with Prime API emulator on loopback",
        description="Run the Buy with Prime reporting API emulator until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    parser.add_argument("--seed", type=int, default=7, help="data seed: same seed, same reports (default 7)")
    parser.add_argument(
        "--stores",
        type=int,
        default=1,
        help="merchants to serve, each with its own credentials, data and task limit: 1 (default) serves "
        "local-target; N > 1 serves store-1 .. store-N",
    )
    parser.add_argument("--rows-per-day", type=int, default=2000, help="CSV rows per report type and day")
    parser.add_argument(
        "--generation-seconds",
        type=float,
        default=30.0,
        help="emulator-clock seconds to generate one day of 2,000 rows (default 30)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        merchants = derived_merchants(args.stores, args.seed) if args.stores != 1 else ()
        config = EmulatorConfig(
            merchants=merchants,
            seed=args.seed,
            rows_per_day=args.rows_per_day,
            generation_seconds=args.generation_seconds,
            host=args.host,
            port=args.port,
            log_requests=not args.quiet,
        )
    except ValueError as error:
        raise SystemExit(f"bwp-lake emulator: {error}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # Ctrl-C may come at any moment after the URL is out, even before the prompt is printed.
    try:
        with Emulator(config) as emulator:
            print(f"Buy with Prime API emulator listening on {emulator.base_url}", flush=True)
            for credentials in emulator.all_credentials:
                print(f"  client id      {credentials['clientId']}")
                print(f"  client secret  {credentials['clientSecret']}")
                print(f"  target id      {credentials['targetId']}")
            credentials = emulator.credentials
            shown = "" if len(emulator.all_credentials) == 1 else f" (as {credentials['targetId']})"
            print(f"Point the pipeline at it{shown} with:")
            print(f"  export BWP_API_URL={emulator.base_url}")
            print(f"  export BWP_CLIENT_ID={credentials['clientId']}")
            print(f"  export BWP_CLIENT_SECRET={credentials['clientSecret']}")
            print(f"  export BWP_TARGET_ID={credentials['targetId']}")
            print("Ctrl-C to stop.", flush=True)
            Event().wait()
    except KeyboardInterrupt:
        print("\nstopped")
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise SystemExit(
            f"bwp-lake emulator: port {args.port} on {args.host} is in use: stop what listens there, "
            "or pick another with --port (0: any free port)"
        ) from None
    return 0

"""``bwp-lake emulator``: flags, what it prints, and a real server until Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import requests

from bwp_lake.cli import emulator_serve
from bwp_lake.cli.main import build_parser
from tests.emulator.support import TIMEOUT


def test_the_subcommand_has_the_documented_flags_and_defaults():
    args = build_parser(["emulator"]).parse_args(["emulator"])
    assert (args.host, args.port, args.seed, args.rows_per_day, args.generation_seconds) == (
        "127.0.0.1",
        8450,
        7,
        2000,
        30.0,
    )
    args = build_parser(["emulator"]).parse_args(
        ["emulator", "--port", "0", "--seed", "3", "--rows-per-day", "50", "--generation-seconds", "1.5"]
    )
    assert (args.port, args.seed, args.rows_per_day, args.generation_seconds) == (0, 3, 50, 1.5)


def test_run_prints_the_url_credentials_and_exports_and_serves_until_interrupted(monkeypatch, capsys):
    served: list[int] = []

    class Interrupted:
        def wait(self) -> None:
            url = re.search(r"listening on (\S+)", capsys.readouterr().out).group(1)
            served.append(requests.get(f"{url}/_emulator/clock", timeout=TIMEOUT).status_code)
            raise KeyboardInterrupt

    monkeypatch.setattr(emulator_serve, "Event", Interrupted)
    args = build_parser(["emulator"]).parse_args(["emulator", "--port", "0", "--quiet"])
    assert args.run(args) == 0
    assert served == [200]


def test_the_printed_lines_name_the_credentials_and_the_environment(monkeypatch, capsys):
    class Interrupted:
        def wait(self) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(emulator_serve, "Event", Interrupted)
    args = build_parser(["emulator"]).parse_args(["emulator", "--port", "0", "--quiet"])
    args.run(args)
    out = capsys.readouterr().out
    url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", out).group(1)
    for line in (
        f"export BWP_API_URL={url}",
        "export BWP_CLIENT_ID=local-client",
        "export BWP_CLIENT_SECRET=local-secret",
        "export BWP_TARGET_ID=local-target",
    ):
        assert line in out
    assert "local-client" in out and "local-secret" in out and "local-target" in out


def test_the_command_runs_a_server_in_its_own_process_until_ctrl_c():
    environment = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        [sys.executable, "-m", "bwp_lake.cli.main", "emulator", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        url = re.search(r"listening on (\S+)", process.stdout.readline()).group(1)
        assert requests.get(f"{url}/_emulator/state", timeout=TIMEOUT).json()["tasks"] == []
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_a_port_in_use_is_one_line_naming_the_port_and_the_fix():
    # given a port something already listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # when the emulator is asked to listen there
        result = subprocess.run(
            [sys.executable, "-m", "bwp_lake.cli.main", "emulator", "--port", str(port), "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    # then it stops at once with one line, not a traceback
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"bwp-lake emulator: port {port} on 127.0.0.1 is in use: stop what listens there, "
        "or pick another with --port (0: any free port)"
    ]


def test_stores_serves_that_many_merchants_and_prints_each_ones_credentials(monkeypatch, capsys):
    # given the command asked for two stores
    tokens: list[int] = []
    printed: list[str] = []

    class Interrupted:
        def wait(self) -> None:
            printed.append(capsys.readouterr().out)
            url = re.search(r"listening on (\S+)", printed[0]).group(1)
            for k in (1, 2):
                form = {"grant_type": "client_credentials", "client_id": f"store-{k}-client"}
                form["client_secret"] = f"store-{k}-secret"
                tokens.append(requests.post(f"{url}/token", data=form, timeout=TIMEOUT).status_code)
            raise KeyboardInterrupt

    monkeypatch.setattr(emulator_serve, "Event", Interrupted)
    args = build_parser(["emulator"]).parse_args(["emulator", "--port", "0", "--quiet", "--stores", "2"])
    args.run(args)
    # then both merchants' credentials are printed, and both get tokens
    out = printed[0]
    for k in (1, 2):
        for line in (
            f"client id      store-{k}-client",
            f"client secret  store-{k}-secret",
            f"target id      store-{k}",
        ):
            assert line in out
    assert "local-client" not in out and "export BWP_TARGET_ID=store-1" in out
    assert tokens == [200, 200]


def test_a_number_of_stores_out_of_range_is_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "bwp_lake.cli.main", "emulator", "--port", "0", "--stores", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "bwp-lake emulator: the number of stores must be between 1 and 100, got 0"
    ]

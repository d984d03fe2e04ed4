"""Nothing a faulty run writes anywhere carries the client secret, an access token or a link's signature."""

from __future__ import annotations

import html
import json
import logging
import re
import sys
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

from bwp_lake.cli.local_run import ingest, run_record
from bwp_lake.cli.main import main
from bwp_lake.emulator import Emulator, EmulatorConfig
from bwp_lake.emulator.downloads import LINK_LIFETIME_SECONDS
from bwp_lake.local import engine as local_engine
from bwp_lake.local.engine import ApiEndpoint
from tests.faults.network import EchoingGateway
from tests.twin import ROWS_PER_DAY, SEED, assert_landed, manifest_key

DAY = "2024-08-22"


class EveryRecord(logging.Handler):
    """Every record of every logger, formatted the way a log line would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__}")


def record_credentials(emulator: Emulator, monkeypatch) -> tuple[list[str], list[str]]:
    """The access tokens the emulator issues and the signatures of the links it hands out."""
    tokens: list[str] = []
    signatures: list[str] = []
    issue_token, sign_link = emulator.api.token, emulator.api.report_download_link

    def token(*args, **kwargs):
        answer = issue_token(*args, **kwargs)
        if answer.status == 200:
            tokens.append(json.loads(answer.body)["access_token"])
        return answer

    def report_download_link(*args, **kwargs):
        link = sign_link(*args, **kwargs)
        signatures.extend(parse_qs(urlsplit(link["downloadUrl"]).query)["X-Amz-Signature"])
        return link

    monkeypatch.setattr(emulator.api, "token", token)
    monkeypatch.setattr(emulator.api, "report_download_link", report_download_link)
    return tokens, signatures


def test_a_faulty_run_logs_no_secret_token_or_signature(engine_for, monkeypatch, tmp_path, capfd):
    # given every log line captured: the functions' structured logs, every Python logger at DEBUG,
    # stdout and stderr
    everything = EveryRecord()
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.DEBUG)
    root.addHandler(everything)
    monkeypatch.setattr(logging.getLogger("bwp-report-lake"), "propagate", True)
    lambda_log = tmp_path / "lambda.log"
    # and an API with a bad day: throttling, short-lived tokens, downloads that break and links
    # that expire before each report's first resume
    with Emulator(EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=2000.0)) as api:
        tokens, signatures = record_credentials(api, monkeypatch)
        api.set_faults(throttle_rate=0.3, token_expiry_seconds=90, drop_download_after_bytes=700)
        serve = api.api.download
        resumed = set()

        def expire_link_before_the_first_resume(path, query, range_header, *, head):
            if range_header and path not in resumed:
                resumed.add(path)
                api.advance(LINK_LIFETIME_SECONDS + 1)
            return serve(path, query, range_header, head=head)

        monkeypatch.setattr(api.api, "download", expire_link_before_the_first_resume)
        engine = engine_for(api=api, lambda_log=lambda_log)
        try:
            outcome = engine.run(
                {
                    "reportTypes": ["ORDER_FEES", "USER_EVENTS"],
                    "startDate": DAY,
                    "endDate": "2024-08-23",
                    "maxConcurrency": 1,
                }
            )
        finally:
            root.removeHandler(everything)
        secret = api.credentials["clientSecret"]
    # when the run is over (and it met every fault)
    assert outcome.succeeded, outcome.cause
    landed = [assert_landed(engine, report_type, DAY) for report_type in ("ORDER_FEES", "USER_EVENTS")]
    assert sum(manifest["download"]["linkRefreshes"] for manifest in landed) >= 1
    assert len(tokens) >= 2 and len(signatures) >= 3
    assert any(call.error_type == "ThrottlingException" for call in outcome.invocations)
    # then no line anywhere holds the secret, a token or a signature
    out, err = capfd.readouterr()
    history = json.dumps([(i.event, i.result, i.error_message) for i in outcome.invocations], default=str)
    written = {
        "lambda log": lambda_log.read_text(),
        "python logging": "\n".join(everything.lines),
        "stdout": out,
        "stderr": err,
        "execution history": history,
    }
    assert written["lambda log"].strip() and written["python logging"].strip()
    for where, text in written.items():
        for name, values in (("client secret", [secret]), ("access token", tokens), ("signature", signatures)):
            leaked = [value for value in values if value in text]
            assert not leaked, f"{name} in {where}"
        assert not re.search(r"X-Amz-Signature=[0-9a-fA-F]", text), f"a signed URL in {where}"


ECHO_SECRET = 'k3y/with+sp"ci@l&chars=='  # every encoding of it differs from the others
ECHOED_DAY, REFUSED_DAY = "2024-08-21", "2024-08-22"


def forms(value: str) -> set[str]:
    """How an echo shows a value: as sent (a form or JSON body, a header), then on an HTML page."""
    sent = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}
    return sent | {html.escape(form) for form in sent}


def echo_the_token_request_and_user_events(path: str, body: bytes, token_requests: list[bytes]) -> str:
    """The first token request goes through, later ones are echoed; USER_EVENTS' startReportTask
    is echoed on the first day (with its Bearer header) and refused on the second, which makes
    the client ask for a token again: that request is echoed with the client secret."""
    if path == "/token":
        token_requests.append(body)
        return "forward" if len(token_requests) == 1 else "echo"
    if path == "/graphql" and b"startReportTask" in body and b"USER_EVENTS" in body:
        return "echo" if f'startDate: \\"{ECHOED_DAY}'.encode() in body else "refuse"
    return "forward"


def test_an_api_gateway_that_echoes_requests_leaks_no_secret_or_token_into_any_output(tmp_path, monkeypatch, capfd):
    # given a gateway in front of the API that echoes some requests back as an HTML page, and
    # every log record of every logger kept
    everything = EveryRecord()
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.DEBUG)
    root.addHandler(everything)
    monkeypatch.setattr(logging.getLogger("bwp-report-lake"), "propagate", True)
    # and the execution history read before the engine forgets it
    histories: list[str] = []
    wait_for_end = local_engine._wait_for_end

    def wait_and_read_history(sfn, arn, timeout_seconds):
        description = wait_for_end(sfn, arn, timeout_seconds)
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        histories.append(json.dumps([description, [event for page in pages for event in page["events"]]], default=str))
        return description

    monkeypatch.setattr(local_engine, "_wait_for_end", wait_and_read_history)
    lake = tmp_path / "lake"
    token_requests: list[bytes] = []
    config = EmulatorConfig(seed=SEED, rows_per_day=ROWS_PER_DAY, generation_seconds=120.0, client_secret=ECHO_SECRET)
    with (
        Emulator(config) as api,
        EchoingGateway(
            api.base_url, lambda path, body: echo_the_token_request_and_user_events(path, body, token_requests)
        ) as gateway,
    ):
        known = api.credentials
        endpoint = ApiEndpoint.one_store(gateway.url, known["clientId"], known["clientSecret"], known["targetId"])
        # when local-run ingests two days of both report types through it, one window at a time
        try:
            request = {
                "reportTypes": ["ORDER_FEES", "USER_EVENTS"],
                "startDate": ECHOED_DAY,
                "endDate": "2024-08-23",
                "maxConcurrency": 1,
            }
            # (--verbose: every step's line, errors and retries included, is output to check)
            (outcome,), progress = ingest(
                endpoint, "an echoing gateway", [request], lake, sys.stdout, virtual_time=True, verbose=True
            )
            print(json.dumps(run_record([outcome], lake, progress)))
            # and the lake's gaps are listed, as text and as JSON
            gaps = ["gaps", "--lake-dir", str(lake), "--from", ECHOED_DAY, "--to", "2024-08-23"]
            assert main(gaps) == 1
            assert main([*gaps, "--json"]) == 1
        finally:
            root.removeHandler(everything)
    # then the echoes happened: of a token request, and of GraphQL requests with a Bearer token
    assert "/token" in gateway.echoed and "/graphql" in gateway.echoed
    assert gateway.tokens and token_requests[0].count(quote_plus(ECHO_SECRET).encode()) == 1
    # and the windows the gateway let through landed, the others failed, naming why
    assert outcome.error == "WindowsFailed"
    landed = sorted(path.relative_to(lake).as_posix() for path in (lake / "manifests").rglob("*.json"))
    assert landed == [manifest_key("ORDER_FEES", day) for day in (ECHOED_DAY, REFUSED_DAY)]
    out, err = capfd.readouterr()
    assert "default USER_EVENTS 2024-08-21 failed: ApiUnavailable: " in out
    assert "default USER_EVENTS 2024-08-22 failed: ApiUnavailable: token: HTTP 200 with a body that is not JSON" in out
    # and no output holds the client secret or a token, in any form an echo shows them in
    outputs = {
        "stdout": out,
        "stderr": err,
        "python logging": "\n".join(everything.lines),
        "execution history": "\n".join(histories),
        **{
            f"lake dir {path.relative_to(lake)}": path.read_bytes().decode("utf-8", "replace")
            for path in sorted(lake.rglob("*"))
            if path.is_file()
        },
    }
    assert histories and any(name.startswith("lake dir _logs/") for name in outputs)
    assert any(name.startswith("lake dir _state/") for name in outputs)
    secrets = {"client secret": forms(ECHO_SECRET), **{f"token {n}": forms(t) for n, t in enumerate(gateway.tokens)}}
    leaks = {
        (where, name): sum(text.count(form) for form in shown)
        for where, text in outputs.items()
        for name, shown in secrets.items()
        if any(form in text for form in shown)
    }
    assert leaks == {}

"""Nothing a faulty run writes anywhere carries the client secret, an access token or a link's signature."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

from emulator import Emulator, EmulatorConfig
from emulator.service import LINK_LIFETIME_SECONDS
from tests.twin import ROWS_PER_DAY, SEED, assert_landed

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
                {"reportTypes": ["ORDER_FEES", "USER_EVENTS"], "startDate": DAY, "endDate": "2024-08-23",
                 "maxConcurrency": 1}
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

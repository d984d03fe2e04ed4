"""reportDownloadLink and the presigned ``GET``/``HEAD /downloads/...`` it points to, as S3 serves them."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, quote, unquote
from xml.sax.saxutils import escape

from bwp_lake.emulator import reports
from bwp_lake.emulator.answers import Answer, same
from bwp_lake.emulator.auth import Signer
from bwp_lake.emulator.clock import Clock
from bwp_lake.emulator.config import EmulatorConfig
from bwp_lake.emulator.faults import FaultSwitches
from bwp_lake.emulator.schema import api_error
from bwp_lake.emulator.tasks import TaskBoard

LINK_LIFETIME_SECONDS = 300


class Downloads:
    """Signed links to COMPLETED tasks' reports, and the reports streamed with Range and the drop fault."""

    def __init__(
        self, config: EmulatorConfig, clock: Clock, faults: FaultSwitches, signer: Signer, tasks: TaskBoard
    ) -> None:
        self.config, self.clock, self.faults, self._signer, self._tasks = config, clock, faults, signer, tasks
        self._lock = threading.Lock()
        self._dropped: set[str] = set()  # tasks whose first download was already cut

    def link(self, task_id: str, host: str, target_id: str) -> dict[str, str]:
        now = self.clock.now()
        task = self._tasks.live(task_id, now, target_id)
        status, _ = task.progress(now)
        if status == "FAILED":
            raise api_error(
                "Validation",
                f"Report task {task_id} FAILED; it has no report to download: start a new task",
                code="ReportNotAvailable",
            )
        if status != "COMPLETED":
            raise api_error(
                "Validation",
                f"Report is not ready for download: task {task_id} is {status}; query reportTask until it is COMPLETED",
                code="ReportNotReady",
            )
        suffix = ".csv.gz" if task.gzip else ".csv"
        path = f"/downloads/{quote(task.task_id, safe='')}/{task.report_type}{suffix}"
        signed = now.replace(microsecond=0)
        amz_date = f"{signed:%Y%m%dT%H%M%SZ}"
        query = (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=local-emulator%2F{signed:%Y%m%d}%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Date={amz_date}&X-Amz-Expires={LINK_LIFETIME_SECONDS}&X-Amz-SignedHeaders=host"
            f"&X-Amz-Signature={self._link_signature(path, amz_date, str(LINK_LIFETIME_SECONDS))}"
        )
        return {"downloadUrl": f"http://{host}{path}?{query}"}

    def serve(self, path: str, query: str, range_header: str | None, *, head: bool) -> Answer:
        params = {name: values[0] for name, values in parse_qs(query).items()}
        amz_date, expires, signature = (params.get(f"X-Amz-{name}") for name in ("Date", "Expires", "Signature"))
        if not (amz_date and expires and signature):
            return _s3_error(
                403,
                "AccessDenied",
                "Query-string authentication requires the X-Amz-Date, X-Amz-Expires and X-Amz-Signature parameters",
            )
        if not same(signature, self._link_signature(path, amz_date, expires)):
            return _s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
            )
        now = self.clock.now()
        expiry = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + timedelta(seconds=int(expires))
        if now >= expiry:
            return _s3_error(
                403,
                "AccessDenied",
                "Request has expired",
                details={
                    "X-Amz-Expires": expires,
                    "Expires": f"{expiry:%Y-%m-%dT%H:%M:%SZ}",
                    "ServerTime": f"{now:%Y-%m-%dT%H:%M:%SZ}",
                },
            )
        task_id = task_of(path)
        if (task := self._tasks.find(task_id, now)) is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        spec = task.spec(self.config)
        length = reports.report_length(spec)
        wanted = _byte_range(range_header, length)
        if wanted == "unsatisfiable":
            return _s3_error(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
                headers={"Content-Range": f"bytes */{length}"},
            )
        first, last = wanted or (0, length - 1)
        headers = {
            "Content-Type": "application/octet-stream" if spec.gzip else "text/csv",
            "Content-Length": str(last - first + 1),
            "Accept-Ranges": "bytes",
            "ETag": f'"{hashlib.md5(repr(spec).encode()).hexdigest()}"',
            "Last-Modified": format_datetime(task.requested + task.generation, usegmt=True),
        }
        if wanted:
            headers["Content-Range"] = f"bytes {first}-{last}/{length}"
        if head:
            return Answer(206 if wanted else 200, headers)
        return Answer(
            206 if wanted else 200,
            headers,
            _limited(reports.stream(spec, first), last - first + 1),
            drop_after=self._drop_after(task_id, first),
        )

    def rearm(self) -> None:
        """drop_download_after_bytes cuts every task's first full download again."""
        with self._lock:
            self._dropped.clear()

    def _drop_after(self, task_id: str, first: int) -> int | None:
        """drop_download_after_bytes cuts the first GET of a task's report that starts at byte 0."""
        limit = self.faults.current.drop_download_after_bytes
        if limit is None or first != 0:
            return None
        with self._lock:
            if task_id in self._dropped:
                return None
            self._dropped.add(task_id)
        return limit

    def _link_signature(self, path: str, amz_date: str, expires: str) -> str:
        return self._signer.sign("link", f"{path}\n{amz_date}\n{expires}")


def task_of(path: str) -> str:
    """The task id in a download path, ``/downloads/<taskId>/<file>``."""
    return unquote(path.split("/")[2])


def _byte_range(header: str | None, length: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range as S3 reads it: None for a whole-file answer (absent or unreadable)."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        count = int(last)
        return (max(0, length - count), length - 1) if count and length else "unsatisfiable"
    start, end = int(first), min(int(last), length - 1) if last else length - 1
    if last and int(last) < start:
        return None
    return (start, end) if start < length else "unsatisfiable"


def _limited(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    for chunk in chunks:
        if count <= 0:
            return
        yield chunk[:count] if len(chunk) > count else chunk
        count -= len(chunk)


def _s3_error(
    status: int,
    code: str,
    message: str,
    *,
    details: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """The XML error document S3 answers a presigned URL with."""
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in (details or {}).items())
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{escape(message)}</Message>'
        f"{extra}<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    ).encode()
    return Answer(status, {"Content-Type": "application/xml", **(headers or {})}, body)

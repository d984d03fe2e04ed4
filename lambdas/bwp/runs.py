"""What an execution keeps in the bucket instead of in its states' payloads: the plan the
Distributed Map reads (``ItemReader``), the result files it writes (``ResultWriter``) and the
summary's full report.

A state's input and output are capped at 256 KiB; these objects are not, so a run of any number
of windows passes only their locations from state to state. Result files can be large: they are
read as a stream, one child execution at a time.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from bwp.aws import not_found, transient_aws_errors
from bwp.lake.contract import PLANS_PREFIX, SUMMARIES_PREFIX
from bwp.models import ObjectLocation, RunReport, Window, WindowFailed

# ResultWriter's manifest names three kinds of result file; TIMED_OUT and ABORTED children are
# listed under FAILED, children the map run never started under PENDING.
RESULT_FILE_KINDS = ("SUCCEEDED", "FAILED", "PENDING")
_READ_CHUNK = 64 * 1024
_WHITESPACE = " \t\r\n"
_BETWEEN_ITEMS = _WHITESPACE + ","


@dataclass(frozen=True)
class ChildResult:
    """One child execution as a result file records it."""

    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or PENDING (never started)
    input: Any
    output: Any = None  # a SUCCEEDED child's output
    error: str | None = None
    cause: str | None = None


def plan_key(execution_name: str) -> str:
    return f"{PLANS_PREFIX}{execution_name}.json"


def summary_key(execution_name: str) -> str:
    return f"{SUMMARIES_PREFIX}{execution_name}.json"


def write_plan(s3, bucket: str, execution_name: str, windows: Iterable[Window]) -> ObjectLocation:
    """The windows as one JSON array, the form the Map's ItemReader reads."""
    location = ObjectLocation(bucket=bucket, key=plan_key(execution_name))
    body = json.dumps([window.to_wire() for window in windows], separators=(",", ":"))
    with transient_aws_errors(f"writing s3://{bucket}/{location.key}"):
        s3.put_object(Bucket=bucket, Key=location.key, Body=body.encode(), ContentType="application/json")
    return location


def read_plan(s3, location: ObjectLocation) -> Iterator[Window]:
    for item in _array_items(s3, location):
        yield Window.model_validate(item)


def refused_key(execution_name: str) -> str:
    return f"{PLANS_PREFIX}{execution_name}.refused.json"


def write_refused(s3, bucket: str, execution_name: str, refused: list[WindowFailed]) -> None:
    """The windows of stores this run could not serve, each with its store's refusal (an empty
    array when it served every store)."""
    key = refused_key(execution_name)
    body = json.dumps([failure.to_wire() for failure in refused], separators=(",", ":"))
    with transient_aws_errors(f"writing s3://{bucket}/{key}"):
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")


def read_refused(s3, bucket: str, execution_name: str) -> Iterator[WindowFailed]:
    """The windows Plan windows refused; none when it wrote no such list (a plan of an earlier version)."""
    try:
        items = list(_array_items(s3, ObjectLocation(bucket=bucket, key=refused_key(execution_name))))
    except ClientError as error:
        if not not_found(error):
            raise
        items = []
    for item in items:
        yield WindowFailed.model_validate(item)


def write_report(s3, bucket: str, execution_name: str, report: RunReport) -> ObjectLocation:
    location = ObjectLocation(bucket=bucket, key=summary_key(execution_name))
    with transient_aws_errors(f"writing s3://{bucket}/{location.key}"):
        s3.put_object(
            Bucket=bucket, Key=location.key, Body=json.dumps(report.to_wire()).encode(), ContentType="application/json"
        )
    return location


def read_report(s3, location: ObjectLocation) -> RunReport:
    with transient_aws_errors(f"reading s3://{location.bucket}/{location.key}"):
        body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    return RunReport.model_validate_json(body)


def child_results(s3, manifest: ObjectLocation) -> Iterator[ChildResult]:
    """Every child execution the ResultWriter recorded, file by file, item by item."""
    with transient_aws_errors(f"reading s3://{manifest.bucket}/{manifest.key}"):
        listing = json.loads(s3.get_object(Bucket=manifest.bucket, Key=manifest.key)["Body"].read())
    bucket = listing.get("DestinationBucket") or manifest.bucket
    files = listing.get("ResultFiles") or {}
    for kind in RESULT_FILE_KINDS:
        for result_file in files.get(kind) or []:
            for item in _array_items(s3, ObjectLocation(bucket=bucket, key=result_file["Key"])):
                yield ChildResult(
                    status=item.get("Status") or kind,
                    input=_decoded(item.get("Input")),
                    output=_decoded(item.get("Output")),
                    error=item.get("Error"),
                    cause=item.get("Cause"),
                )


def _decoded(value: Any) -> Any:
    """Result files carry a child's input and output as JSON text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _array_items(s3, location: ObjectLocation) -> Iterator[Any]:
    with transient_aws_errors(f"reading s3://{location.bucket}/{location.key}"):
        body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"]
        yield from json_array_items(body.iter_chunks(_READ_CHUNK))


def json_array_items(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The items of one JSON array, decoded as its bytes arrive: memory holds a chunk and the
    item being read, never the whole array."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    chunks = iter(chunks)
    buffer, position, opened, exhausted = "", 0, False, False
    while True:
        while position < len(buffer) and buffer[position] in (_BETWEEN_ITEMS if opened else _WHITESPACE):
            position += 1
        if position < len(buffer):
            if not opened:
                if buffer[position] != "[":
                    raise ValueError(f"expected a JSON array, found {buffer[position]!r}")
                opened, position = True, position + 1
                continue
            if buffer[position] == "]":
                return
            try:
                item, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                if exhausted:
                    raise
            else:
                # The item is whole only once a separator follows it: "12" may be "123" cut short.
                after = end
                while after < len(buffer) and buffer[after] in _WHITESPACE:
                    after += 1
                if after < len(buffer) and buffer[after] in ",]":
                    yield item
                    position = end
                    continue
                if exhausted and after < len(buffer):
                    raise ValueError(f"expected ',' or ']' after an item, found {buffer[after]!r}")
        if exhausted:
            raise ValueError("the JSON array ends before its closing bracket")
        buffer, position = buffer[position:], 0
        chunk = next(chunks, None)
        exhausted = chunk is None
        buffer += utf8.decode(chunk or b"", final=exhausted)

"""The Distributed Map's result files on moto's engine, as Step Functions writes them.

moto 5.2 runs a Distributed Map's ``ResultWriter`` but writes only an empty ``manifest.json``
(its source says "TODO: generate result files"), and drops each child's input, error and cause.
Summarize reads what AWS writes, so the local engine completes it: each child's input and end
are recorded as it finishes, and the ResultWriter writes ``SUCCEEDED_0.json``, ``FAILED_0.json``
and the manifest that lists them, in AWS's documented shape (a JSON array of executions, with
``Input`` and ``Output`` as JSON text, ``Error`` and ``Cause`` for a failed one).
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.distributed_item_processor_worker import (  # noqa: E501
    DistributedItemProcessorWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 import (  # noqa: E501
    ResourceEvalS3,
)
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for


@dataclass(frozen=True)
class _Child:
    index: int
    name: str
    input: Any
    status: str
    started: str
    stopped: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


class MapResults:
    """Records each child of every map run, and writes them when the map run's ResultWriter runs."""

    def __init__(self, on_child_end: Callable[[Any, str, Any], None] | None = None) -> None:
        self._children: dict[str, list[_Child]] = {}
        # Told of each child as it ends: its input, its status and its output.
        self._on_child_end = on_child_end
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[None]:
        recorder = self
        original_eval_input = DistributedItemProcessorWorker._eval_input
        original_eval_job = DistributedItemProcessorWorker._eval_job

        def eval_input(worker, env_frame) -> None:
            original_eval_input(worker, env_frame)
            # What the child execution starts with: the item after ItemSelector.
            env_frame.bwp_child_input = copy.deepcopy(env_frame.states.get_input())

        def eval_job(worker, env, job) -> None:
            started = _now()
            original_eval_job(worker, env, job)
            recorder._record(worker._map_run_record.map_run_arn, env, job, started)

        def put_object(env, resource_runtime_part, state_credentials) -> None:
            recorder._write(env, resource_runtime_part, state_credentials)

        with (
            mock.patch.object(DistributedItemProcessorWorker, "_eval_input", eval_input),
            mock.patch.object(DistributedItemProcessorWorker, "_eval_job", eval_job),
            mock.patch.object(ResourceEvalS3, "_handle_put_object", staticmethod(put_object)),
        ):
            yield

    def _record(self, map_run_arn: str, env, job, started: str) -> None:
        # Read, not copied: moto's program_state() deep-copies the state, and a failed child's
        # holds its error's whole context, deep enough to exhaust the recursion limit.
        state = env._program_state
        child = {
            "index": job.job_index,
            "name": str(uuid.uuid4()),
            "input": getattr(env, "bwp_child_input", job.job_input),
            "started": started,
            "stopped": _now(),
        }
        if isinstance(state, ProgramError):
            details = state.error or {}
            record = _Child(**child, status="FAILED", error=details.get("error"), cause=details.get("cause"))
        elif isinstance(state, ProgramTimedOut):
            record = _Child(**child, status="TIMED_OUT", error="States.Timeout")
        elif isinstance(state, ProgramStopped):
            record = _Child(**child, status="ABORTED", error=state.error, cause=state.cause)
        elif job.job_output is None:
            record = _Child(**child, status="FAILED")
        else:
            record = _Child(**child, status="SUCCEEDED", output=job.job_output)
        with self._lock:
            self._children.setdefault(map_run_arn, []).append(record)
        if self._on_child_end is not None:
            self._on_child_end(record.input, record.status, record.output)

    def _write(self, env, resource_runtime_part, state_credentials) -> None:
        """As moto's ResultWriter, plus the result files: what the map run's state leaves on
        the stack is the ResultWriter's output, the manifest's location."""
        parameters = env.stack.pop()
        env.stack.pop()  # the children's outputs, as the Map would return them without a ResultWriter
        s3 = boto_client_for(service="s3", region=resource_runtime_part.region, state_credentials=state_credentials)
        map_run_record = env.map_run_record_pool_manager.get_all().pop()
        map_run_arn = map_run_record.map_run_arn
        bucket, prefix = parameters["Bucket"], parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        folder = f"{prefix}{map_run_arn.split(':')[-1]}/"
        with self._lock:
            children = sorted(self._children.pop(map_run_arn, []), key=lambda child: child.index)
        # TIMED_OUT and ABORTED children are listed with the failed ones, as in AWS; moto runs
        # every item, so none is ever PENDING.
        grouped = {
            "FAILED": [child for child in children if child.status != "SUCCEEDED"],
            "PENDING": [],
            "SUCCEEDED": [child for child in children if child.status == "SUCCEEDED"],
        }
        files: dict[str, list[dict[str, Any]]] = {kind: [] for kind in grouped}
        for kind, of_kind in grouped.items():
            if not of_kind:
                continue
            key = f"{folder}{kind}_0.json"
            body = json.dumps([_execution(child, map_run_record.execution_arn) for child in of_kind]).encode()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[kind].append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        key = f"{folder}manifest.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        env.stack.append({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})


def _execution(child: _Child, parent_execution_arn: str) -> dict[str, Any]:
    """One child execution as a result file lists it."""
    entry: dict[str, Any] = {
        "ExecutionArn": f"{parent_execution_arn}:{child.name}",
        "Input": json.dumps(child.input),
        "InputDetails": {"Included": True},
        "Name": child.name,
        "StartDate": child.started,
        "Status": child.status,
        "StopDate": child.stopped,
    }
    if child.status == "SUCCEEDED":
        entry["Output"] = json.dumps(child.output)
        entry["OutputDetails"] = {"Included": True}
    else:
        entry.update({name: value for name, value in (("Error", child.error), ("Cause", child.cause)) if value})
    return entry


def _now() -> str:
    return datetime.now(UTC).isoformat()

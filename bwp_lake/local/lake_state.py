"""The state table kept in the lake directory: a run starts from it, each write goes through to
it, and one run at a time holds it.

The local engine's DynamoDB is moto's, in memory. What must outlive a run (the task ledger, and
the slots that live tasks hold) is written to ``_state/table.json`` after every write to the
table, whole, through a temporary file renamed into place: a run killed at any instant, SIGKILL
included, leaves the table as it was after a write, never half a file. One file rewritten,
not a journal: the table holds one item per window plus five slots, small enough to rewrite,
and ``bwp-lake gaps`` reads it as it is. Not fsynced: a killed process loses nothing the kernel
has; a power cut may lose the last writes, which the next run's adoption then cannot know of.

One run at a time: a run holds an exclusive ``flock`` on ``_state/lock``, which the OS releases
when the process ends however it ends, so a dead run never blocks the next. A second run on the
directory is refused at once, naming the first: two in-memory tables would each count five free
slots and each keep only its own ledger entries.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

from bwp.coordination import LEDGER_PK_PREFIX, SLOTS_PK_PREFIX, WAITERS_PK_PREFIX

STATE_DIR = Path("_state")
STATE_FILE = STATE_DIR / "table.json"
# Earlier versions kept only the ledger's entries, in this file, saved at the end of a run: read
# it while no table.json exists, so an existing lake directory keeps its tasks and failures.
LEGACY_LEDGER_FILE = STATE_DIR / "ledger.json"
LOCK_FILE = STATE_DIR / "lock"
_TEMPORARY_SUFFIX = ".tmp"
# The backend's writes that the coordination makes (batch writes go through put and delete).
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


class LakeDirectoryInUse(Exception):
    """Another run holds the lake directory."""


class StateFileUnreadable(ValueError):
    """The saved state table is not the JSON this module writes (it was edited by hand)."""


@contextmanager
def held_by_this_run(root: Path) -> Iterator[None]:
    """Hold the lake directory for this process, or raise LakeDirectoryInUse naming its holder."""
    (root / STATE_DIR).mkdir(parents=True, exist_ok=True)
    descriptor = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeDirectoryInUse(
                f"lake directory {root} is in use by another run ({_holder(descriptor)}); "
                "wait for it to end, or use another lake directory"
            ) from None
        os.ftruncate(descriptor, 0)
        holder = {"pid": os.getpid(), "startedAt": datetime.now(UTC).isoformat(timespec="seconds")}
        os.write(descriptor, json.dumps(holder).encode())
        yield
        os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock


def _holder(descriptor: int) -> str:
    text = os.pread(descriptor, 1024, 0).decode(errors="replace")
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']}, started {holder['startedAt']}"
    except (ValueError, KeyError, TypeError):
        return "starting"  # it holds the lock and has not written its name yet


def saved_items(root: Path) -> list[dict[str, Any]]:
    """The state table's items as the last write left them (none at first)."""
    path = root / STATE_FILE
    if not path.exists():
        path = root / LEGACY_LEDGER_FILE
    if not path.exists():
        return []
    remedy = "move it aside to start without the ledger and the slots"
    try:
        items = json.loads(path.read_text(), parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise StateFileUnreadable(f"{path} is not JSON ({error}); {remedy}") from None
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("pk"), str) for item in items
    ):
        raise StateFileUnreadable(f"{path} is not a list of the state table's items; {remedy}")
    return items


def saved_ledger_items(root: Path) -> list[dict[str, Any]]:
    """The task ledger's entries in the lake directory ``root``."""
    return [item for item in saved_items(root) if item["pk"].startswith(LEDGER_PK_PREFIX)]


def rewrite_saved_items(root: Path, rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
    """Apply ``rewrite`` to each saved item and save them all, in one replacement of the file,
    if it changed any (the layout of an earlier version, read once into this one's)."""
    items = saved_items(root)
    rewritten = [rewrite(item) for item in items]
    if rewritten == items:
        return False
    _save(root, rewritten)
    return True


def load_state(root: Path, table) -> None:
    """Put the saved items into ``table`` (and drop the temporary files of a save cut short).

    Call it holding the directory: the windows that held slots or queued for one are then all
    gone, so their slots' leases are ended (a slot whose task is still in progress at the API
    is kept by the coordination, as for any expired lease) and their places in the queue dropped.
    """
    for stale in (root / STATE_DIR).glob(f"*{_TEMPORARY_SUFFIX}"):
        stale.unlink(missing_ok=True)
    with table.batch_writer() as batch:
        for item in saved_items(root):
            if item["pk"].startswith(WAITERS_PK_PREFIX):
                continue
            if item["pk"].startswith(SLOTS_PK_PREFIX):
                item = {**item, "leaseExpiresAt": 0}
            batch.put_item(Item=item)


@contextmanager
def written_through(root: Path, table_name: str) -> Iterator[None]:
    """While inside, every write to moto's table ``table_name`` is saved to the lake directory
    before the write returns."""
    # Imported here: gaps and status read the saved state with the package alone, without the twin.
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.Lock()
    (root / STATE_DIR).mkdir(parents=True, exist_ok=True)

    def save_after(write: Callable[..., Any]) -> Callable[..., Any]:
        def write_and_save(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                result = write(backend, *args, **kwargs)
                items = [item.to_regular_json() for item in backend.get_table(table_name).all_items()]
                _save(root, items)
            return result

        return write_and_save

    with ExitStack() as stack:
        for name in _WRITES:
            stack.enter_context(mock.patch.object(DynamoDBBackend, name, save_after(getattr(DynamoDBBackend, name))))
        yield


def _save(root: Path, items: list[dict[str, Any]]) -> None:
    target = root / STATE_FILE
    temporary = target.with_name(f"{target.name}.{uuid.uuid4().hex}{_TEMPORARY_SUFFIX}")
    try:
        temporary.write_text(json.dumps(items, default=_number, indent=1))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _number(value: object) -> int | float:
    """DynamoDB numbers come back as Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")

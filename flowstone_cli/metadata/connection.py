"""Opening the metadata DuckDB file: lock-conflict retries, one session per file, clear errors.

DuckDB lets one process hold a file read-write *or* many hold it read-only, and a conflicting
opener fails at once instead of waiting. So every open retries lock conflicts with exponential
backoff and jitter until a deadline, then raises `MetadataStoreBusyError` naming the holder's PID.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from flowstone_cli.errors import MetadataStoreBusyError, MetadataStoreError

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_FIRST_DELAY = 0.005  # seconds; a short write session takes ~15 ms
_MAX_DELAY = 0.2
_LOCK_CONFLICT = "Could not set lock on file"
_HOLDER = re.compile(r"held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
# DuckDB's progress bar would print into the CLI's output during a long query.
_SESSION_SETUP = "SET enable_progress_bar = false"


def duckdb_module() -> ModuleType:
    """The `duckdb` module, imported on first use.

    `import duckdb` costs ~70 ms; importing it here rather than at module level keeps
    `import flowstone_cli.metadata` (and commands that never open the store) fast.
    """
    import duckdb

    return duckdb


def connect(path: Path, *, read_only: bool, deadline: float) -> DuckDBPyConnection:
    """Open `path`, retrying lock conflicts until `deadline` (a `time.monotonic()` value).

    Raises:
        MetadataStoreBusyError: another process still held a conflicting lock at the deadline.
        MetadataStoreError: the file is not a DuckDB database, is corrupt, comes from a newer
            DuckDB, or cannot be opened at all.
    """
    duckdb = duckdb_module()
    delay = _FIRST_DELAY
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            message = str(exc)
            if _LOCK_CONFLICT not in message:
                raise open_error(path, message, duckdb.__version__) from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise busy_error(path, message) from exc
            # Jitter keeps two waiting processes from retrying in lockstep.
            time.sleep(min(remaining, random.uniform(delay / 2, delay)))
            delay = min(delay * 2, _MAX_DELAY)
            continue
        conn.execute(_SESSION_SETUP)
        return conn


def connect_in_memory() -> DuckDBPyConnection:
    """A private in-memory database, configured like a file session."""
    conn = duckdb_module().connect(":memory:")
    conn.execute(_SESSION_SETUP)
    return conn


def busy_error(path: Path, duckdb_message: str) -> MetadataStoreBusyError:
    """The error for a lock still held at the deadline, naming the holder from DuckDB's message."""
    match = _HOLDER.search(duckdb_message)
    pid = match.group("pid") if match else "unknown"
    program = f"{os.path.basename(match.group('exe'))}, " if match else ""
    hint = (f"Wait for that process to finish and try again (`ps -p {pid}` shows what it is)."
            if match else "Wait for the other flowstone command to finish and try again.")
    return MetadataStoreBusyError(
        f"metadata store {path} is busy: held by another process ({program}PID {pid}) for "
        "longer than the lock timeout", hint=hint)


def open_error(path: Path, duckdb_message: str, duckdb_version: str) -> MetadataStoreError:
    """The error for a file DuckDB refuses to open, saying why in the user's terms."""
    lowered = duckdb_message.lower()
    if "not a valid duckdb database file" in lowered:
        what = "is not a DuckDB database file"
        hint = ("Point [metadata] path in flowstone.toml at the right file, or move this one "
                "aside so FlowStone creates a new store.")
    elif "version" in lowered and ("newer" in lowered or "can only read" in lowered):
        what = f"was written by a newer DuckDB than this one ({duckdb_version})"
        hint = "Upgrade flowstone-cli (`pip install -U flowstone-cli`) so it brings a newer DuckDB."
    elif "corrupt" in lowered or "checksum" in lowered:
        what = "is corrupt or was written by an incompatible DuckDB"
        hint = "Restore it from a backup, or move it aside so FlowStone creates a new store."
    else:
        what = "cannot be opened"
        hint = "Check that the file and its folder exist and are readable and writable."
    return MetadataStoreError(f"metadata store {path} {what} ({duckdb_message}); it was left "
                              "untouched", hint=hint)


_gates: dict[str, threading.Lock] = {}
_owners: dict[str, int] = {}
_gates_guard = threading.Lock()


@contextmanager
def exclusive_session(path: Path, deadline: float) -> Iterator[None]:
    """Allow one session at a time on `path` within this process.

    DuckDB shares one database instance per file within a process: a nested session would get a
    second connection to it (or fail with "different configuration" when one is read-only), and
    closing it would not release the file to other processes. Threads wait for each other until
    `deadline`; nesting sessions in one thread is a programming error.

    Raises:
        RuntimeError: this thread already has a session open on `path`.
        MetadataStoreBusyError: another thread of this process held it past the deadline.
    """
    key = os.path.abspath(path)
    with _gates_guard:
        gate = _gates.setdefault(key, threading.Lock())
        if _owners.get(key) == threading.get_ident():
            raise RuntimeError(f"a metadata session on {path} is already open in this thread; "
                               "close it before opening another (sessions do not nest)")
    if not gate.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise MetadataStoreBusyError(
            f"metadata store {path} is busy: held by another thread of this process "
            f"(PID {os.getpid()}) for longer than the lock timeout",
            hint="Report this as a FlowStone bug: a session was left open.")
    _owners[key] = threading.get_ident()
    try:
        yield
    finally:
        del _owners[key]
        gate.release()

"""Creating the metadata file atomically, so that a kill during creation leaves no torn file.

DuckDB creates a database file and then writes its header and first blocks. A process killed in
between (SIGKILL, out of memory, power loss) leaves a file of zero bytes, or a header without a
schema, that every later open refuses as "not a valid DuckDB database file": the project's
history would be unusable from its very first command. So a new store is built under a
temporary name in the same folder, migrated to the current schema, closed (DuckDB checkpoints
on close), flushed to disk, and only then renamed into place. A lock on the store's folder
makes concurrent creators take turns; a zero-byte file, which only a creation killed by an older
FlowStone can leave, is replaced the same way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowstone_cli.metadata.connection import busy_error, duckdb_module
from flowstone_cli.metadata.schema import migrate

try:  # POSIX; elsewhere creation falls back to an in-process check only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def usable(path: Path) -> bool:
    """True when `path` holds a database (exists and is not an empty, torn creation)."""
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def ensure_created(path: Path, deadline: float) -> None:
    """Create the store at `path` with the current schema unless it already holds a database.

    Raises:
        MetadataStoreBusyError: another process kept creating it past `deadline`.
    """
    if usable(path):
        return
    with _creation_lock(path, deadline):
        if usable(path):
            return  # another process created it while this one waited
        duckdb = duckdb_module()
        building = path.with_name(f".{path.name}.{os.getpid()}.creating")
        for leftover in (building, building.with_name(building.name + ".wal")):
            leftover.unlink(missing_ok=True)
        conn = duckdb.connect(str(building))
        try:
            conn.execute("BEGIN TRANSACTION")
            migrate(conn, 0, duckdb.__version__)
            conn.execute("COMMIT")
        finally:
            conn.close()
        _fsync(building)
        os.replace(building, path)
        _fsync(path.parent)


@contextmanager
def _creation_lock(path: Path, deadline: float) -> Iterator[None]:
    """Creators of `path` take turns: an exclusive `flock` on its folder (no extra file)."""
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        if fcntl is not None:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise busy_error(path, "another process is creating the store") \
                            from None
                    time.sleep(0.01)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename is still atomic
    finally:
        os.close(descriptor)

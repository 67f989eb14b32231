"""Opening read and write sessions: version checks, migrations, commit and rollback.

A write session runs in one transaction: COMMIT when the caller's block ends normally, ROLLBACK
on any exception, and the connection is always closed. A file from a newer FlowStone is detected
through a read-only connection before it is ever opened read-write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flowstone_cli.errors import MetadataStoreBusyError, MetadataStoreError
from flowstone_cli.file_locks import file_session
from flowstone_cli.metadata.connection import (busy_error, connect, connect_in_memory,
                                               duckdb_module)
from flowstone_cli.metadata.creation import ensure_created, usable
from flowstone_cli.metadata.migrations import CURRENT_SCHEMA_VERSION
from flowstone_cli.metadata.schema import migrate, read_schema_version, refuse_newer

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


def read_error(path: Path, exc: BaseException) -> MetadataStoreError:
    """The error for a query that DuckDB failed while reading `path`."""
    return MetadataStoreError(f"could not read metadata store {path}: {exc}",
                              hint="Run again with --debug to see the cause.")


@contextmanager
def locked_connection(path: Path, *, read_only: bool,
                      deadline: float) -> Iterator[DuckDBPyConnection]:
    """A connection to `path` inside its session lock (see `flowstone_cli/file_locks.py`):
    no other FlowStone process opens the file until this connection is closed."""
    with file_session(path, shared=read_only, deadline=deadline,
                      busy=lambda pid: _busy(path, pid)):
        conn = connect(path, read_only=read_only, deadline=deadline)
        try:
            yield conn
        finally:
            conn.close()


def _busy(path: Path, pid: int | None) -> MetadataStoreBusyError:
    # Worded like DuckDB's own lock message, so the error names the holder the same way.
    return busy_error(path, f"held in flowstone (PID {pid})" if pid else "")


@contextmanager
def read_session(path: Path, deadline: float) -> Iterator[DuckDBPyConnection]:
    """A read-only connection to `path` at the current schema; an empty store if it is missing.

    Raises:
        MetadataStoreError: newer schema, not a DuckDB file, or unreadable.
        MetadataStoreBusyError: a writer held the file past `deadline`.
    """
    duckdb = duckdb_module()
    if not usable(path):
        # An empty in-memory store answers every query with nothing and creates no file.
        conn = connect_in_memory()
        try:
            migrate(conn, 0, duckdb.__version__)
            yield conn
        finally:
            conn.close()
        return
    with locked_connection(path, read_only=True, deadline=deadline) as conn:
        try:
            version = read_schema_version(conn)
        except duckdb.Error as exc:
            raise read_error(path, exc) from exc
        if version == CURRENT_SCHEMA_VERSION:
            yield conn
            return
    refuse_newer(path, version)
    # Older schema (or a file created but never migrated): upgrade it in a short write session
    # so the queries find the columns they expect, then read.
    with write_session(path, deadline, pre_check=False):
        pass
    with locked_connection(path, read_only=True, deadline=deadline) as conn:
        yield conn


@contextmanager
def write_session(path: Path, deadline: float, *,
                  pre_check: bool) -> Iterator[DuckDBPyConnection]:
    """A read-write connection inside a transaction, the schema brought up to date.

    Args:
        path: the store file; it and its folder are created if missing.
        deadline: `time.monotonic()` value after which a lock conflict is an error.
        pre_check: look at the schema version through a read-only connection first. Needed
            until this process has seen the file at a known schema; the version is checked
            again inside the session either way.

    Raises:
        MetadataStoreError: newer schema or DuckDB, not a DuckDB file, or the write failed
            (disk full...) and was rolled back.
        MetadataStoreBusyError: another process held the file past `deadline`.
    """
    duckdb = duckdb_module()
    if pre_check and usable(path):
        _refuse_newer_read_only(path, deadline)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ensure_created(path, deadline)  # never a torn file, even if killed right now
    except (OSError, duckdb.Error) as exc:
        raise MetadataStoreError(f"cannot create metadata store {path}: {exc}",
                                 hint="Check the [metadata] path and its permissions.") from exc
    with locked_connection(path, read_only=False, deadline=deadline) as conn:
        try:
            # Nobody else can change the file while this connection holds it, so reading the
            # version before BEGIN is as good as inside the transaction.
            version = read_schema_version(conn)
            refuse_newer(path, version)
            conn.execute("BEGIN TRANSACTION")
            if version < CURRENT_SCHEMA_VERSION:
                migrate(conn, version, duckdb.__version__)
            yield conn
            conn.execute("COMMIT")
        except duckdb.Error as exc:
            _rollback(conn, exc)
            raise MetadataStoreError(
                f"could not write to metadata store {path}: {exc}; the write was not recorded",
                hint=f"Check free disk space and permissions in {path.parent}; the store is "
                     "unchanged and can be used again once that is fixed.",
                retryable=isinstance(exc, duckdb.IOException)) from exc
        except BaseException as exc:
            _rollback(conn, exc)
            raise


def _refuse_newer_read_only(path: Path, deadline: float) -> None:
    # A read-only look before opening read-write, so that a file from a newer FlowStone is never
    # opened for writing and stays byte-for-byte as it was.
    duckdb = duckdb_module()
    with locked_connection(path, read_only=True, deadline=deadline) as conn:
        try:
            version = read_schema_version(conn)
        except duckdb.Error as exc:
            raise read_error(path, exc) from exc
    refuse_newer(path, version)


def _rollback(conn: DuckDBPyConnection, cause: BaseException) -> None:
    """Roll back the open transaction without hiding `cause`, the error the user must see."""
    duckdb = duckdb_module()
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error as exc:
        # After a failed COMMIT (or before BEGIN) there is no transaction to roll back, and
        # closing the connection discards anything uncommitted anyway; keep other failures
        # as a note for --debug.
        if "no transaction is active" not in str(exc):
            cause.add_note(f"rollback also failed: {exc}")

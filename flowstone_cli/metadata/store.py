"""`MetadataStore`: short read and write sessions over the metadata DuckDB file.

A session connects, does one batch of work (a write session in one transaction), and closes, so
other `flowstone` processes on the same project get in within moments. Do not keep a session open
while steps run, do not nest sessions, and never fork while one is open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flowstone_cli.metadata.connection import duckdb_module, exclusive_session
from flowstone_cli.metadata.creation import usable
from flowstone_cli.metadata.redacting import RedactingConnection
from flowstone_cli.metadata.sessions import read_error, read_session, write_session
from flowstone_cli.metadata.store_reader import StepKey, StoreReader
from flowstone_cli.metadata.store_writer import StoreWriter
from flowstone_cli.redaction import NO_SECRETS, Redactor

__all__ = ["MetadataStore", "StepKey", "StoreReader", "StoreWriter"]


class MetadataStore:
    """The metadata DuckDB file of a project.

    Holds no connection: each `reader()` / `writer()` block opens one, retrying lock conflicts
    with other processes for up to `lock_timeout` seconds, and closes it at the end.

    Attributes:
        path: the DuckDB file.
        lock_timeout: how long to wait for another process to release the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0,
                 redactor: Redactor | None = None) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        # Every value written goes through it (see metadata/redacting.py).
        self.redactor = redactor or NO_SECRETS
        # Set once this process has seen the file at a schema it knows; later write sessions
        # then skip the read-only pre-check (each write session still re-checks inside).
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"MetadataStore({str(self.path)!r})"

    def exists(self) -> bool:
        """Whether the store file exists (reading never creates it; the first write does).
        An empty file, left by a creation killed before this FlowStone, counts as missing."""
        return usable(self.path)

    @contextmanager
    def writer(self) -> Iterator[StoreWriter]:
        """A write session: one transaction, committed when the block ends normally.

        The first write creates the file (and its folder) and brings an older schema up to date.
        An exception in the block rolls everything back and propagates.

        Raises:
            MetadataStoreBusyError: another process held the file past `lock_timeout`.
            MetadataStoreError: the file is from a newer FlowStone or DuckDB, is not a DuckDB
                file, or the write failed (disk full...) and was not recorded.
        """
        deadline = time.monotonic() + self.lock_timeout
        with _ctrl_c_stays_ctrl_c(), exclusive_session(self.path, deadline), \
                write_session(self.path, deadline, pre_check=not self._schema_checked) as conn:
            yield StoreWriter(RedactingConnection(conn, self.redactor)  # type: ignore[arg-type]
                              if self.redactor else conn)
        self._schema_checked = True

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """A read-only session; on a missing file it reads as empty and creates nothing.

        Raises:
            MetadataStoreBusyError: a writer held the file past `lock_timeout`.
            MetadataStoreError: the file is from a newer FlowStone or DuckDB, or is not usable.
        """
        duckdb = duckdb_module()
        deadline = time.monotonic() + self.lock_timeout
        with _ctrl_c_stays_ctrl_c(), exclusive_session(self.path, deadline), \
                read_session(self.path, deadline) as conn:
            try:
                yield StoreReader(conn)
            except duckdb.Error as exc:
                raise read_error(self.path, exc) from exc


# -- ownership and claims (issue 6) --
@contextmanager
def _ctrl_c_stays_ctrl_c() -> Iterator[None]:
    """Turn DuckDB's "Query interrupted" back into the Ctrl-C it was.

    A SIGINT that lands while DuckDB runs a query interrupts the query and surfaces as a
    `RuntimeError`, not a `KeyboardInterrupt`; the session has been rolled back and closed by
    then. Re-raising it as Ctrl-C keeps `flowstone` cancelling cleanly (exit 130, run canceled)
    instead of failing with an internal error.
    """
    try:
        yield
    except RuntimeError as exc:
        if str(exc) != "Query interrupted":
            raise
        raise KeyboardInterrupt from exc

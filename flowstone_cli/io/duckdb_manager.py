"""The `duckdb` I/O manager: one table per asset in a DuckDB "warehouse" file.

The warehouse is a separate file from FlowStone's metadata file. Connections are short (open,
one transaction, close) so other processes can use the file between steps; DuckDB never waits
for a lock, so a conflict is retried here with backoff and jitter up to `lock_timeout`.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from flowstone_cli.errors import ConfigError, IOManagerError
from flowstone_cli.file_locks import file_session
from flowstone_cli.io import failures
from flowstone_cli.io.base import IOManager, StoreContext, StoredValue
from flowstone_cli.io.publish import HashingWriter, make_dirs_durable
from flowstone_cli.io.values import UnsupportedValueError, to_arrow_table

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULT_DATABASE = "warehouse.duckdb"
METADATA_FILE_NAME = "flowstone.duckdb"
PARTITION_COLUMN = "_partition"
# Which partitions were stored, so that an empty partition still "exists".
PARTITIONS_TABLE = "_flowstone_partitions"
_ACCEPTED = ("pyarrow.Table, pyarrow.RecordBatch, a list of RecordBatches, a pandas DataFrame "
             "or a list of dicts")
_LOCK_CONFLICT = "Could not set lock"
_PID = re.compile(r"PID (\d+)")
_FIRST_DELAY_SECONDS = 0.02
_MAX_DELAY_SECONDS = 1.0


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def arrow_ipc_sha256(table: pa.Table) -> str:
    """Hex sha256 of the Arrow IPC stream serialisation of `table` (deterministic)."""
    # lazy: keeps CLI start-up fast
    import pyarrow as pa

    sink = HashingWriter(None)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.hexdigest()


class DuckDBIOManager(IOManager):
    """Stores tabular values as tables in a DuckDB database file.

    Unpartitioned assets are replaced whole (`CREATE OR REPLACE TABLE`). Partitioned assets
    share one table with a `_partition VARCHAR` column; storing a partition replaces its rows in
    one transaction. `load` returns a `pyarrow.Table` without the `_partition` column.

    Args:
        root: storage root; a relative `path` is taken relative to it.
        storage_options: unused (DuckDB files are local); accepted for a uniform signature.
        path: the database file (default `<root>/warehouse.duckdb`).
        lock_timeout: seconds to keep retrying while another process holds the file.
    """

    type_name: ClassVar[str] = "duckdb"

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None, *,
                 path: str | None = None, lock_timeout: float = 30.0) -> None:
        super().__init__(root, storage_options)
        if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)) \
                or lock_timeout < 0:
            raise ConfigError(f"duckdb I/O manager: lock_timeout {lock_timeout!r} must be a "
                              "number of seconds >= 0", hint="For example lock_timeout = 30.")
        self.lock_timeout = float(lock_timeout)
        self._created = False
        self.database_path = self._database_path(path)

    def _database_path(self, path: str | None) -> str:
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise ConfigError(f"duckdb I/O manager: path {path!r} is not a file path",
                              hint="Give a file such as `warehouse.duckdb`.")
        candidate = os.path.expanduser(path or DEFAULT_DATABASE)
        if not os.path.isabs(candidate):
            if not self.is_local:
                raise ConfigError(
                    f"duckdb I/O manager: the storage root {self._root.display} is not local, "
                    "and a DuckDB database must be a local file",
                    hint="Set `path` to an absolute local file for the warehouse.")
            candidate = os.path.join(self.root, candidate)
        candidate = os.path.abspath(candidate)
        if os.path.basename(candidate) == METADATA_FILE_NAME:
            raise ConfigError(f"duckdb I/O manager: {candidate} is FlowStone's metadata file "
                              "name; the warehouse must be a separate file",
                              hint=f"Use another file name, e.g. `{DEFAULT_DATABASE}`.")
        return candidate

    def uri_for(self, ctx: StoreContext) -> str:
        uri = f"duckdb://{self.database_path}#{ctx.asset}"
        key = _partition_key(ctx)
        return uri if key is None else f"{uri}?partition={quote(key, safe=':@-_.')}"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(type={self.type_name!r}, root={self._root.display!r}, "
                f"path={self.database_path!r})")

    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        uri = self.uri_for(ctx)
        _refuse_reserved(ctx, uri)
        try:
            table, _ = to_arrow_table(value, allow_records=True)
        except UnsupportedValueError:
            raise failures.unsupported_value_error(ctx.asset, ctx.partition, uri, value,
                                                   manager="duckdb", accepted=_ACCEPTED) from None
        key = _partition_key(ctx)
        if key is not None and PARTITION_COLUMN in table.column_names:
            raise IOManagerError(f"{failures.describe(ctx.asset, ctx.partition)} has a column "
                                 f"named {PARTITION_COLUMN!r}, which the duckdb I/O manager uses "
                                 "for partition keys", hint="Rename that column.",
                                 retryable=False)
        data_version = arrow_ipc_sha256(table)
        make_dirs_durable(os.path.dirname(self.database_path))
        with self._session(ctx, "store", read_only=False) as con:
            view = f"__flowstone_incoming_{secrets.token_hex(6)}"
            con.register(view, table)
            try:
                con.execute("BEGIN TRANSACTION")
                _write_table(con, ctx, key, view)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            finally:
                con.unregister(view)
        return StoredValue(uri=uri, size_bytes=None, rows=int(table.num_rows),
                           data_version=data_version)

    def load(self, ctx: StoreContext) -> Any:
        missing = failures.missing_value_error(ctx.asset, ctx.partition, self.uri_for(ctx))
        if not os.path.exists(self.database_path):
            raise missing
        key = _partition_key(ctx)
        with self._session(ctx, "load", read_only=True) as con:
            if not _value_exists(con, ctx.asset, key):
                raise missing
            table = quote_identifier(ctx.asset)
            if key is None:
                return con.sql(f"SELECT * FROM {table}").to_arrow_table()
            return con.sql(f"SELECT * EXCLUDE ({PARTITION_COLUMN}) FROM {table} "
                           f"WHERE {PARTITION_COLUMN} = ?", params=[key]).to_arrow_table()

    def exists(self, ctx: StoreContext) -> bool:
        if not os.path.exists(self.database_path):
            return False
        with self._session(ctx, "exists", read_only=True) as con:
            return _value_exists(con, ctx.asset, _partition_key(ctx))

    def delete(self, ctx: StoreContext) -> None:
        if not os.path.exists(self.database_path):
            return
        key = _partition_key(ctx)
        with self._session(ctx, "delete", read_only=False) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                _ensure_partitions_table(con)
                con.execute(f"DELETE FROM {PARTITIONS_TABLE} WHERE asset = ?"
                            + ("" if key is None else " AND partition = ?"),
                            [ctx.asset] if key is None else [ctx.asset, key])
                table = quote_identifier(ctx.asset)
                if key is None:
                    con.execute(f"DROP TABLE IF EXISTS {table}")
                elif _table_exists(con, ctx.asset):
                    con.execute(f"DELETE FROM {table} WHERE {PARTITION_COLUMN} = ?", [key])
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    @contextlib.contextmanager
    def _session(self, ctx: StoreContext, operation: str, *,
                 read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short connection, retried while another process holds the file; always closed.

        A read-write session refuses a file that holds FlowStone metadata: asset tables must
        never shadow the store's tables (the load-time check catches a configured clash; this
        catches one made later, e.g. through a symlink).
        """
        if not read_only and not self._created:
            import duckdb  # lazy: keeps CLI start-up fast

            _create_atomically(self.database_path, duckdb)
            self._created = True
        deadline = time.monotonic() + self.lock_timeout
        # The session lock spans open to close: DuckDB alone can lose a transaction committed
        # while another process is still closing the file (see flowstone_cli/file_locks.py).
        with file_session(self.database_path, shared=read_only, deadline=deadline,
                          busy=lambda pid: self._busy_error(ctx, operation, pid)):
            con = self._connect(ctx, operation, read_only=read_only, deadline=deadline)
            try:
                if not read_only:
                    self._refuse_metadata_store(con, ctx, operation)
                yield con
            finally:
                con.close()

    def _connect(self, ctx: StoreContext, operation: str, *, read_only: bool,
                 deadline: float) -> duckdb.DuckDBPyConnection:
        # lazy: keeps CLI start-up fast
        import duckdb

        delay = _FIRST_DELAY_SECONDS
        while True:
            try:
                return duckdb.connect(self.database_path, read_only=read_only)
            except duckdb.IOException as exc:
                if _LOCK_CONFLICT not in str(exc):
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    match = _PID.search(str(exc))
                    raise self._busy_error(ctx, operation,
                                           int(match.group(1)) if match else None) from exc
                # Full jitter: processes that collided do not retry in lock-step.
                time.sleep(min(remaining, random.uniform(delay / 2, delay)))
                delay = min(delay * 2, _MAX_DELAY_SECONDS)

    def _refuse_metadata_store(self, con: duckdb.DuckDBPyConnection, ctx: StoreContext,
                               operation: str) -> None:
        found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                            "'main' AND table_name IN ('meta', 'runs', 'steps')").fetchall()
        if found and found[0][0] == 3:
            raise IOManagerError(
                f"could not {operation} {failures.describe(ctx.asset, ctx.partition)}: "
                f"{self.database_path} is a FlowStone metadata store, not a warehouse",
                hint="Give the duckdb I/O manager its own `path`, e.g. warehouse.duckdb.",
                retryable=False)

    def _busy_error(self, ctx: StoreContext, operation: str,
                    pid: int | None) -> IOManagerError:
        holder = f"another process (PID {pid})" if pid else "another process"
        return IOManagerError(
            f"could not {operation} {failures.describe(ctx.asset, ctx.partition)}: the DuckDB "
            f"warehouse {self.database_path} is locked by {holder}; gave up after "
            f"{self.lock_timeout:g} s",
            hint="Wait for that process to finish (or close the program holding the file), or "
                 "raise lock_timeout for this I/O manager.", retryable=True)


def _create_atomically(path: str, duckdb: Any) -> None:
    """Create the warehouse file unless it holds a database, so that workers starting together
    never open a file another one is still creating (DuckDB writes a new file's header after
    creating it: a concurrent open, or a kill in between, sees "not a valid DuckDB database
    file"). The database is built under a temporary name and linked into place, which fails if
    another process got there first; an empty leftover is replaced."""
    try:
        if os.path.getsize(path) > 0:
            return
    except FileNotFoundError:
        pass
    folder, name = os.path.split(path)
    os.makedirs(folder or ".", exist_ok=True)
    building = os.path.join(folder,
                            f".{name}.{os.getpid()}.{random.getrandbits(32):08x}.creating")
    try:
        duckdb.connect(building).close()
        try:
            os.link(building, path)
        except FileExistsError:
            if os.path.getsize(path) == 0:
                os.replace(building, path)
    finally:
        for leftover in (building, building + ".wal"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


def _partition_key(ctx: StoreContext) -> str | None:
    return ctx.partition if ctx.partition is not None else ctx.partition_path


def _refuse_reserved(ctx: StoreContext, uri: str) -> None:
    stripped = ctx.asset.lstrip("_")
    if stripped != ctx.asset and stripped.startswith("flowstone"):
        raise IOManagerError(f"asset name {ctx.asset!r} is reserved by the duckdb I/O manager "
                             f"({uri})", hint="Rename the asset.", retryable=False)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # lazy: keeps CLI start-up fast
    import duckdb

    # No transaction may be open (BEGIN itself failed); closing the connection discards any
    # uncommitted work anyway, so a failing ROLLBACK changes nothing.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _ensure_partitions_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {PARTITIONS_TABLE} (asset VARCHAR NOT NULL, "
                "partition VARCHAR NOT NULL, stored_at TIMESTAMPTZ NOT NULL)")


def _write_table(con: duckdb.DuckDBPyConnection, ctx: StoreContext, key: str | None,
                 view: str) -> None:
    """The body of a store transaction (the caller begins and commits)."""
    table = quote_identifier(ctx.asset)
    _ensure_partitions_table(con)
    if key is None:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
        con.execute(f"DELETE FROM {PARTITIONS_TABLE} WHERE asset = ?", [ctx.asset])
        return
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT *, CAST(NULL AS VARCHAR) AS "
                f"{PARTITION_COLUMN} FROM {view} LIMIT 0")
    con.execute(f"DELETE FROM {table} WHERE {PARTITION_COLUMN} = ?", [key])
    con.execute(f"INSERT INTO {table} BY NAME SELECT *, ?::VARCHAR AS {PARTITION_COLUMN} "
                f"FROM {view}", [key])
    con.execute(f"DELETE FROM {PARTITIONS_TABLE} WHERE asset = ? AND partition = ?",
                [ctx.asset, key])
    con.execute(f"INSERT INTO {PARTITIONS_TABLE} VALUES (?, ?, current_timestamp)",
                [ctx.asset, key])


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute("SELECT 1 FROM duckdb_tables() WHERE schema_name = 'main' AND "
                       "table_name = ?", [name]).fetchall()
    return bool(rows)


def _value_exists(con: duckdb.DuckDBPyConnection, asset: str, key: str | None) -> bool:
    if not _table_exists(con, asset):
        return False
    if key is None:
        return True
    if not _table_exists(con, PARTITIONS_TABLE):
        return False
    rows = con.execute(f"SELECT 1 FROM {PARTITIONS_TABLE} WHERE asset = ? AND partition = ?",
                       [asset, key]).fetchall()
    return bool(rows)

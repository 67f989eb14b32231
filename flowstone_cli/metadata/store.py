"""`MetadataStore`: short read and write sessions over the metadata DuckDB file.

A session connects, does one batch of work (a write session in one transaction), and closes, so
other `flowstone` processes on the same project get in within moments. Do not keep a session open
while steps run, do not nest sessions, and never fork while one is open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

# One module per table family holds its SQL; the façade below only routes calls to them.
from flowstone_cli.metadata import backfills as backfill_table
from flowstone_cli.metadata import events as event_table
from flowstone_cli.metadata import lineage as lineage_table
from flowstone_cli.metadata import runs as run_table
from flowstone_cli.metadata import steps as step_table
from flowstone_cli.metadata.connection import duckdb_module, exclusive_session
from flowstone_cli.metadata.backfills import BackfillRecord
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.schema import read_meta
from flowstone_cli.metadata.sessions import open_for_reading, read_error, write_session

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

StepKey = step_table.StepKey


class StoreReader:
    """Queries of one open session (from `MetadataStore.reader()` or `.writer()`).

    Valid only inside the `with` block that produced it: the connection closes at its end.
    """

    def __init__(self, conn: DuckDBPyConnection) -> None:
        self._conn = conn

    def meta(self) -> dict[str, str]:
        """The store's `meta` entries: `schema_version`, `duckdb_version`, `created_at`."""
        return read_meta(self._conn)

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this exact id, or the only one whose id starts with it (>= 4 characters).

        Raises:
            NotFoundError: no run matches.
            UsageError: the prefix matches several runs.
        """
        return run_table.get(self._conn, run_id)

    def list_runs(self, *, limit: int = 20, status: str | None = None) -> list[RunRecord]:
        """Up to `limit` runs, newest first, optionally only those with `status`.

        Raises:
            UsageError: `status` is not a run status, or `limit` is negative.
        """
        return run_table.list_recent(self._conn, limit=limit, status=status)

    def runs_with_status(self, status: str) -> list[RunRecord]:
        """Every run with `status`, newest first (e.g. `running`, to find crashed runs)."""
        return run_table.with_status(self._conn, status)

    def get_step(self, step_id: str) -> StepRecord:
        """The step with this id.

        Raises:
            NotFoundError: no step has this id.
        """
        return step_table.get(self._conn, step_id)

    def steps_for_run(self, run_id: str) -> list[StepRecord]:
        """Every step of the run with this exact id, by start time, then attempt."""
        return step_table.for_run(self._conn, run_id)

    def events_for_run(self, run_id: str, *,
                       kinds: Sequence[str] | None = None) -> list[EventRecord]:
        """The events of the run with this exact id by time, optionally only the given kinds."""
        return event_table.for_run(self._conn, run_id, kinds)

    def latest_materializations(self, assets: Sequence[str] | None = None
                                ) -> dict[StepKey, StepRecord]:
        """The latest succeeded, not wiped step per (asset, partition).

        Args:
            assets: only these assets; None for all.

        Returns:
            `{(asset, partition): step}`; partition is None for unpartitioned assets.
        """
        return step_table.latest_materializations(self._conn, assets)

    def latest_attempts(self, assets: Sequence[str] | None = None) -> dict[StepKey, StepRecord]:
        """The latest step that ended per (asset, partition), whatever its final status.

        Running, skipped and up-to-date steps are not attempts and are left out.

        Args:
            assets: only these assets; None for all.
        """
        return step_table.latest_attempts(self._conn, assets)

    def lineage_for_steps(self, step_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        """The inputs each step consumed; every requested id maps to a (possibly empty) list."""
        return lineage_table.for_steps(self._conn, step_ids)

    def consumers_of(self, step_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
        """Reverse lineage: the lineage rows of the steps that consumed each materialization.

        Every requested id maps to a (possibly empty) list; `record.step_id` is the consumer.
        """
        return lineage_table.consumers_of(self._conn, step_ids)

    def get_backfill(self, backfill_id: str) -> BackfillRecord:
        """The backfill with this id or unique prefix (NotFoundError / UsageError otherwise)."""
        return backfill_table.get(self._conn, backfill_id)

    def list_backfills(self, *, limit: int = 20) -> list[BackfillRecord]:
        """Newest backfills first."""
        return backfill_table.list_all(self._conn, limit)

    def backfill_steps(self, backfill_id: str) -> list[StepRecord]:
        """The latest step row per (asset, partition) over every run of a backfill."""
        return backfill_table.latest_steps(self._conn, backfill_id)

    def backfill_done(self, backfill_id: str) -> set[tuple[str, str | None]]:
        """(asset, partition) pairs that runs of a backfill materialized or found up to date."""
        return backfill_table.succeeded_keys(self._conn, backfill_id)

    def dynamic_keys(self, names: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Registered keys of dynamic partitions, by name."""
        return backfill_table.dynamic_keys(self._conn, names)


class StoreWriter(StoreReader):
    """Writes of one write session; all of them commit together when the session ends."""

    def insert_run(self, run: RunRecord) -> None:
        """Record a new run."""
        run_table.insert(self._conn, run)

    def update_run(self, run_id: str, /, **fields: Any) -> None:
        """Set columns of a run, e.g. `update_run(rid, status=RunStatus.SUCCEEDED, ended_at=t)`.

        Raises:
            ValueError: a field is not a column of `runs` (or is `run_id`).
            NotFoundError: no run has this exact id.
        """
        run_table.update(self._conn, run_id, fields)

    def insert_steps(self, steps: Sequence[StepRecord]) -> None:
        """Record new steps, all in one statement."""
        step_table.insert(self._conn, steps)

    def upsert_steps(self, steps: Sequence[StepRecord]) -> None:
        """Record steps, replacing rows with the same step id (e.g. running -> succeeded)."""
        step_table.upsert(self._conn, steps)

    def update_step(self, step_id: str, /, **fields: Any) -> None:
        """Set columns of a step, e.g. `update_step(sid, wiped=True)`.

        Raises:
            ValueError: a field is not a column of `steps` (or is `step_id`).
            NotFoundError: no step has this id.
        """
        step_table.update(self._conn, step_id, fields)

    def insert_lineage(self, rows: Sequence[LineageRecord]) -> None:
        """Record which materializations steps consumed."""
        lineage_table.insert(self._conn, rows)

    def insert_events(self, events: Sequence[EventRecord]) -> None:
        """Record a batch of events."""
        event_table.insert(self._conn, events)

    def insert_backfill(self, record: BackfillRecord) -> None:
        """Record a new backfill."""
        backfill_table.insert(self._conn, record)

    def update_backfill(self, backfill_id: str, /, **fields: Any) -> None:
        """Set columns of a backfill (status, ended_at, summary...)."""
        backfill_table.update(self._conn, backfill_id, fields)

    def add_dynamic_keys(self, name: str, keys: Sequence[str], *, when: Any,
                         by: str | None = None) -> list[str]:
        """Register keys of a dynamic partitions definition; returns the new ones."""
        return backfill_table.add_dynamic_keys(self._conn, name, keys, when, by)

    def remove_dynamic_keys(self, name: str, keys: Sequence[str]) -> list[str]:
        """Unregister keys; returns those that were registered."""
        return backfill_table.remove_dynamic_keys(self._conn, name, keys)


class MetadataStore:
    """The metadata DuckDB file of a project.

    Holds no connection: each `reader()` / `writer()` block opens one, retrying lock conflicts
    with other processes for up to `lock_timeout` seconds, and closes it at the end.

    Attributes:
        path: the DuckDB file.
        lock_timeout: how long to wait for another process to release the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        # Set once this process has seen the file at a schema it knows; later write sessions
        # then skip the read-only pre-check (each write session still re-checks inside).
        self._schema_checked = False

    def __repr__(self) -> str:
        return f"MetadataStore({str(self.path)!r})"

    def exists(self) -> bool:
        """Whether the store file exists (reading never creates it; the first write does)."""
        return self.path.exists()

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
        with exclusive_session(self.path, deadline), \
                write_session(self.path, deadline, pre_check=not self._schema_checked) as conn:
            yield StoreWriter(conn)
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
        with exclusive_session(self.path, deadline):
            conn = open_for_reading(self.path, deadline)
            try:
                yield StoreReader(conn)
            except duckdb.Error as exc:
                raise read_error(self.path, exc) from exc
            finally:
                conn.close()

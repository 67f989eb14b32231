"""`MetadataStore`: short read and write sessions over the metadata DuckDB file.

A session connects, does one batch of work (a write session in one transaction), and closes, so
other `flowstone` processes on the same project get in within moments. Do not keep a session open
while steps run, do not nest sessions, and never fork while one is open.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

# One module per table family holds its SQL; the façade below only routes calls to them.
from flowstone_cli.metadata import automation as automation_table
from flowstone_cli.metadata import backfills as backfill_table
from flowstone_cli.metadata import checkpoints as checkpoint_table
from flowstone_cli.metadata import checks as check_table
from flowstone_cli.metadata import claims as claim_table
from flowstone_cli.metadata import events as event_table
from flowstone_cli.metadata import lineage as lineage_table
from flowstone_cli.metadata import lineage_queries as lineage_query_table
from flowstone_cli.metadata import runs as run_table
from flowstone_cli.metadata import steps as step_table
from flowstone_cli.metadata.creation import usable
from flowstone_cli.metadata.connection import duckdb_module, exclusive_session
from flowstone_cli.metadata.backfills import BackfillRecord
from flowstone_cli.metadata.claims import Claim, LiveRun
from flowstone_cli.metadata.redacting import RedactingConnection
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.schema import read_meta
from flowstone_cli.metadata.sessions import open_for_reading, read_error, write_session
from flowstone_cli.redaction import NO_SECRETS, Redactor

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

    # -- ownership and claims (issue 6) --
    def running_runs(self) -> list[LiveRun]:
        """Runs recorded as running, with their process token and any cancel request."""
        return claim_table.running_runs(self._conn)

    def planned_steps(self, run_id: str) -> list[StepKey]:
        """The steps a run planned to execute ([] for runs recorded before schema v3)."""
        return claim_table.planned_steps(self._conn, run_id)

    def claims_on(self, keys: Sequence[StepKey]) -> dict[StepKey, Claim]:
        """The claims live runs hold on any of `keys`."""
        return claim_table.claims_on(self._conn, keys)

    def cancel_requested(self, run_id: str) -> bool:
        """Whether `runs cancel` asked this run to stop."""
        return claim_table.cancel_requested(self._conn, run_id)

    def latest_of_keys(self, keys: Sequence[StepKey]) -> dict[StepKey, StepRecord]:
        """The latest succeeded, not wiped step of each of `keys` that has one."""
        return claim_table.latest_of_keys(self._conn, keys)

    # -- lineage queries (issue 5) --
    # Narrow lookups of a few keys or steps at a time (see `lineage_queries.py`).
    def latest_for_keys(self, keys: Collection[StepKey]) -> lineage_query_table.LatestSteps:
        """Latest materialization and latest finished attempt of exactly these keys (narrow)."""
        return lineage_query_table.latest_for_keys(self._conn, keys)

    def materializations_of_keys(self, keys: Collection[StepKey]) -> list[StepRecord]:
        """Every succeeded step, wiped or not, of exactly these keys (narrow records)."""
        return lineage_query_table.materializations_of_keys(self._conn, keys)

    def steps_by_id(self, step_ids: Collection[str]) -> dict[str, StepRecord]:
        """Narrow records of the given steps by id; unknown ids are left out."""
        return lineage_query_table.steps_by_id(self._conn, step_ids)

    def lineage_of(self, step_ids: Collection[str]) -> list[LineageRecord]:
        """The lineage rows of the given consuming steps, unordered."""
        return lineage_query_table.lineage_of(self._conn, step_ids)

    def consumers_of_ids(self, step_ids: Collection[str]) -> list[LineageRecord]:
        """The lineage rows naming any of the given steps as their upstream, unordered."""
        return lineage_query_table.consumers_of_ids(self._conn, step_ids)

    def recorded_partitions(self, assets: Collection[str]) -> dict[str, list[str]]:
        """Asset -> sorted partitions with at least one finished attempt."""
        return lineage_query_table.recorded_partitions(self._conn, assets)

    def step_history(self, assets: Collection[str], since: Any = None) -> list[StepRecord]:
        """Finished attempts of the assets that ended at or after `since` (aware), oldest first."""
        return lineage_query_table.history(self._conn, assets, since)

    def runs_by_id(self, run_ids: Collection[str]) -> list[RunRecord]:
        """The runs with these exact ids, oldest first."""
        return lineage_query_table.runs_by_id(self._conn, run_ids)

    def asset_summary(self, assets: Collection[str]
                      ) -> dict[str, lineage_query_table.AssetSummary]:
        """Per asset: partitions materialized, failed and wiped by their latest attempt."""
        return lineage_query_table.asset_summary(self._conn, assets)

    def read_only_query(self, sql: str, *, timeout: float | None = None,
                        limit: int | None = None) -> lineage_query_table.QueryResult:
        """One user SELECT with external access disabled (UsageError for anything else),
        interrupted after `timeout` seconds, at most `limit` rows."""
        return lineage_query_table.run_read_only(self._conn, sql, timeout=timeout, limit=limit)

    # -- automation (schedules and sensors) --
    def last_schedule_ticks(self) -> dict[str, automation_table.ScheduleTick]:
        """The latest recorded tick of every schedule."""
        return automation_table.last_ticks(self._conn)

    def schedule_ticks(self, schedule: str, *, limit: int = 20
                       ) -> list[automation_table.ScheduleTick]:
        """Newest ticks of one schedule first."""
        return automation_table.ticks_for(self._conn, schedule, limit)

    def automation_states(self) -> dict[str, automation_table.AutomationState]:
        """State of every schedule and sensor ever evaluated."""
        return automation_table.states(self._conn)

    def last_sensor_ticks(self) -> dict[str, dict[str, Any]]:
        """The latest evaluation of every sensor (time, status, run ids, message)."""
        return automation_table.last_sensor_ticks(self._conn)

    def known_run_keys(self, sensor: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` the sensor has already claimed."""
        return automation_table.known_run_keys(self._conn, sensor, keys)

    def materializations_since(self, assets: Sequence[str], after: Any) -> list[dict[str, Any]]:
        """Successful materializations of `assets` that ended after `after`, oldest first."""
        return automation_table.materializations_since(self._conn, assets, after)

    # -- checkpoints and notifications (issue 7) --
    def get_checkpoint(self, request_id: str) -> checkpoint_table.CheckpointRequest:
        """A checkpoint request by id or unique prefix."""
        return checkpoint_table.get(self._conn, request_id)

    def check_verdicts(self, materializations: Collection[str]) -> list[check_table.CheckRecord]:
        """The newest result of each asset check on each of these materializations."""
        return check_table.verdicts(self._conn, materializations)

    def checks_for_runs(self, run_ids: Collection[str]) -> list[check_table.CheckRecord]:
        """Every check result the runs recorded."""
        return check_table.for_runs(self._conn, run_ids)

    def check_history(self, asset: str, check: str | None = None, *, limit: int = 50
                      ) -> list[check_table.CheckRecord]:
        """Newest check results of an asset, newest first."""
        return check_table.history(self._conn, asset, check, limit)

    def list_checkpoints(self, *, status: str | None = None, run_id: str | None = None,
                         backfill_id: str | None = None, limit: int = 100
                         ) -> list[checkpoint_table.CheckpointRequest]:
        """Checkpoint requests (not passes, unless status='passed'), newest first."""
        return checkpoint_table.list_requests(self._conn, status=status, run_id=run_id,
                                              backfill_id=backfill_id, limit=limit)

    def checkpoints_for_runs(self, run_ids: Sequence[str]
                             ) -> list[checkpoint_table.CheckpointRequest]:
        """Requests and passes recorded by these runs."""
        return checkpoint_table.for_runs(self._conn, run_ids)

    def checkpoints_for_partitions(self, keys: Sequence[tuple[str, str | None]]
                                   ) -> list[checkpoint_table.CheckpointRequest]:
        """Requests of these (checkpoint, partition) pairs."""
        return checkpoint_table.for_partitions(self._conn, keys)

    def latest_checkpoint_requests(self, keys: Sequence[tuple[str, str | None]]
                                   ) -> dict[tuple[str, str | None],
                                             checkpoint_table.CheckpointRequest]:
        """The newest request of each (checkpoint, partition)."""
        return checkpoint_table.latest_for(self._conn, keys)

    def pending_notifications(self, limit: int = 100) -> list[tuple[str, str, str, str, int]]:
        """Undelivered notifications, oldest first."""
        return checkpoint_table.pending_notifications(self._conn, limit)


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

    # -- ownership and claims (issue 6) --
    def record_ownership(self, run_id: str, process_token: str | None,
                         planned: Sequence[StepKey]) -> None:
        """Record the coordinator process of a new run and the steps it plans to execute."""
        claim_table.record_ownership(self._conn, run_id, process_token, planned)

    def claim(self, run_id: str, keys: Sequence[StepKey], now: Any) -> None:
        """Claim `keys` for a run (check `claims_on` in the same session first)."""
        claim_table.claim(self._conn, run_id, keys, now)

    def release_claims(self, run_id: str, keys: Sequence[StepKey] | None = None) -> None:
        """Drop a run's claims on `keys` (None: all of them)."""
        if keys is None:
            claim_table.release_all(self._conn, [run_id])
        else:
            claim_table.release(self._conn, run_id, keys)

    def request_cancel(self, run_id: str, *, by: str, now: Any) -> None:
        """Ask a run to cancel itself at its next flush."""
        claim_table.request_cancel(self._conn, run_id, by, now)

    def reap_runs(self, reasons: dict[str, str], now: Any) -> list[str]:
        """Mark dead runs crashed, their unfinished steps abandoned, and drop their claims."""
        return claim_table.reap(self._conn, reasons, now)

    # -- automation (schedules and sensors) --
    def claim_schedule_tick(self, schedule: str, fire_time: Any, partitions: Sequence[Any],
                            now: Any) -> bool:
        """Claim a fire time; False when another `tick` claimed it first."""
        return automation_table.claim_tick(self._conn, schedule, fire_time, partitions, now)

    def finish_schedule_tick(self, schedule: str, fire_time: Any, status: str,
                             run_id: str | None, message: str | None = None) -> None:
        """Record what became of a claimed tick."""
        automation_table.finish_tick(self._conn, schedule, fire_time, status, run_id, message)

    def save_automation_state(self, state: automation_table.AutomationState) -> None:
        """Insert or replace a schedule's or sensor's state."""
        automation_table.save_state(self._conn, state)

    def claim_run_key(self, sensor: str, run_key: str, now: Any) -> bool:
        """Claim a sensor run key; False when it was launched before."""
        return automation_table.claim_run_key(self._conn, sensor, run_key, now)

    def set_run_key_run(self, sensor: str, run_key: str, run_id: str) -> None:
        """Attach the launched run to a claimed run key."""
        automation_table.set_run_key_run(self._conn, sensor, run_key, run_id)

    def record_sensor_tick(self, sensor: str, ts: Any, status: str, run_ids: Sequence[str],
                           message: str | None = None) -> None:
        """Append one evaluation to a sensor's history."""
        automation_table.record_sensor_tick(self._conn, sensor, ts, status, run_ids, message)

    def insert_checks(self, rows: Sequence[check_table.CheckRecord]) -> None:
        """Record asset check results."""
        check_table.insert(self._conn, rows)

    # -- checkpoints and notifications (issue 7) --
    def insert_checkpoints(self, requests: Sequence[checkpoint_table.CheckpointRequest]
                           ) -> None:
        """Record checkpoint requests (and passes)."""
        checkpoint_table.insert(self._conn, requests)

    def decide_checkpoint(self, request_id: str, **decision: Any) -> bool:
        """Record a decision on a still-pending request; False when already decided."""
        return checkpoint_table.decide(self._conn, request_id, **decision)

    def update_checkpoint(self, request_id: str, /, **fields: Any) -> None:
        """Set columns of a request."""
        checkpoint_table.update(self._conn, request_id, **fields)

    def queue_notifications(self, items: Sequence[tuple[str, str, str, str]], when: Any
                            ) -> None:
        """Queue (id, target, event, payload JSON) notifications."""
        checkpoint_table.queue_notifications(self._conn, items, when)

    def mark_notification(self, notification_id: str, *, sent: bool, error: str | None,
                          when: Any) -> None:
        """Record one delivery attempt."""
        checkpoint_table.mark_notification(self._conn, notification_id, sent=sent, error=error,
                                           when=when)



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
        with _ctrl_c_stays_ctrl_c(), exclusive_session(self.path, deadline):
            conn = open_for_reading(self.path, deadline)
            try:
                yield StoreReader(conn)
            except duckdb.Error as exc:
                raise read_error(self.path, exc) from exc
            finally:
                conn.close()


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

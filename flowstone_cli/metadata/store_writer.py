"""`StoreWriter`: the writes (and queries) of one write session of the metadata store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowstone_cli.metadata import automation as automation_table
from flowstone_cli.metadata import backfills as backfill_table
from flowstone_cli.metadata import checkpoints as checkpoint_table
from flowstone_cli.metadata import checks as check_table
from flowstone_cli.metadata import claims as claim_table
from flowstone_cli.metadata import events as event_table
from flowstone_cli.metadata import lineage as lineage_table
from flowstone_cli.metadata import runs as run_table
from flowstone_cli.metadata import steps as step_table
from flowstone_cli.metadata.backfills import BackfillRecord
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord

StepKey = step_table.StepKey

from flowstone_cli.metadata.store_reader import StoreReader


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

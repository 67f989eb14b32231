"""`StoreReader`: the queries of one open session of the metadata store."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

# One module per table family holds its SQL; the session classes only route calls to them.
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
from flowstone_cli.metadata.backfills import BackfillRecord
from flowstone_cli.metadata.claims import Claim, LiveRun
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.schema import read_meta

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

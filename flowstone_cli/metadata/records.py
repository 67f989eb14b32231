"""Frozen records mirroring the rows of the metadata tables.

Times are timezone-aware UTC `datetime`s; JSON columns are `dict`s here and are written with
`json.dumps(sort_keys=True)`. Field order follows the table columns so rows map onto records
positionally.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from flowstone_cli.metadata.statuses import EventLevel, RunStatus, StepStatus


def plain(value: Any) -> Any:
    """A value as JSON-ready data: ISO-8601 times, enums as their values."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One `flowstone` invocation that runs steps (a materialize, backfill or resume).

    Attributes:
        run_id: time-sortable id from `new_run_id()`.
        status: current state of the run.
        trigger: what started it (`cli`, `schedule:NAME`, `sensor:NAME`, `backfill`...).
        selection: the selection expression as given.
        command: the command line.
        actor: user name of whoever started it.
        host: machine it ran on.
        pid: process id of the coordinator.
        flowstone_version: version of FlowStone that ran it.
        started_at, ended_at: run start and end (UTC).
        heartbeat_at: last sign of life of the coordinator; a stale one means it crashed.
        tags: free-form string labels.
        backfill_id: the backfill this run belongs to, if any.
        parent_run_id: the run this one resumes or retries, if any.
        summary: counts and totals written when the run ends.
    """

    run_id: str
    status: RunStatus
    trigger: str | None = None
    selection: str | None = None
    command: str | None = None
    actor: str | None = None
    host: str | None = None
    pid: int | None = None
    flowstone_version: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    backfill_id: str | None = None
    parent_run_id: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready plain data (ISO-8601 times, status as its string value)."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One attempt at computing one asset partition.

    Attributes:
        step_id: random id from `new_id()`; for a succeeded step, the materialization id.
        run_id: the run the step belongs to.
        asset: asset name.
        partition: partition key, or None for an unpartitioned asset.
        attempt: 1 for the first try, 2 for the first retry...
        status: outcome of the attempt.
        reason: why the step ran or was skipped (from the plan).
        started_at, ended_at: attempt start and end (UTC).
        duration_ms: wall time of the attempt.
        code_version: version of the asset's code that produced the value.
        data_version: content hash of the stored value.
        size_bytes: size of the stored value.
        rows: row count of the stored value, when it has rows.
        uri: where the value is stored.
        io_manager: name of the I/O manager that stored it.
        pid, host: the worker process that ran the attempt.
        error_code, error_message, traceback: the failure, when it failed.
        metadata: user and I/O-manager metadata about the value.
        wiped: True once `flowstone wipe` deleted the value; it is then no longer current.
    """

    step_id: str
    run_id: str
    asset: str
    partition: str | None
    attempt: int
    status: StepStatus
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: float | None = None
    code_version: str | None = None
    data_version: str | None = None
    size_bytes: int | None = None
    rows: int | None = None
    uri: str | None = None
    io_manager: str | None = None
    pid: int | None = None
    host: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    wiped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The step as JSON-ready plain data (ISO-8601 times, status as its string value)."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """One input a step consumed: an upstream materialization (a succeeded step).

    Attributes:
        step_id: the consuming step.
        upstream_step_id: the materialization it read.
        upstream_asset, upstream_partition: what that materialization is of.
        upstream_data_version: the data version it had when read.
    """

    step_id: str
    upstream_step_id: str
    upstream_asset: str
    upstream_partition: str | None = None
    upstream_data_version: str | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One structured log event.

    Attributes:
        event_id: random id from `new_id()`.
        run_id: the run it belongs to, if any.
        step_id: the step it belongs to, if any.
        ts: when it happened (UTC).
        level: severity.
        kind: event kind, e.g. `step_succeeded` (the typed events of `flowstone_cli.events`).
        asset, partition: what it is about, if anything.
        message: one human-readable line.
        data: structured details.
    """

    event_id: str
    run_id: str | None
    step_id: str | None
    ts: datetime
    level: EventLevel
    kind: str
    asset: str | None = None
    partition: str | None = None
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

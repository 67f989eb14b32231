"""SQL of the `checkpoints` and `notifications` tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import NotFoundError, UsageError
from flowstone_cli.metadata.codec import Column, Kind, Table, encode_time
from flowstone_cli.metadata.records import plain

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


class RequestStatus(str, Enum):
    """States of a checkpoint request."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PASSED = "passed"          # the condition was false: recorded, no decision needed


@dataclass(frozen=True, slots=True)
class CheckpointRequest:
    """One approval request and, once decided, its decision (the audit record)."""

    request_id: str
    checkpoint: str
    partition: str | None
    run_id: str
    upstream_asset: str
    upstream_step_id: str | None
    status: RequestStatus
    outcome: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    value_hash: str | None = None
    requested_at: datetime | None = None
    timeout_at: datetime | None = None
    escalate_at: datetime | None = None
    escalated_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    patch: dict[str, Any] = field(default_factory=dict)
    before_hash: str | None = None
    after_hash: str | None = None
    backfill_id: str | None = None
    resumed_run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


CHECKPOINTS: Table[CheckpointRequest] = Table("checkpoints", CheckpointRequest, [
    Column("request_id", "VARCHAR"),
    Column("checkpoint", "VARCHAR"),
    Column("partition", "VARCHAR"),
    Column("run_id", "VARCHAR"),
    Column("upstream_asset", "VARCHAR"),
    Column("upstream_step_id", "VARCHAR"),
    Column("status", "VARCHAR", Kind.ENUM, RequestStatus),
    Column("outcome", "VARCHAR"),
    Column("summary", "VARCHAR", Kind.JSON),
    Column("value_hash", "VARCHAR"),
    Column("requested_at", "TIMESTAMPTZ", Kind.TIME),
    Column("timeout_at", "TIMESTAMPTZ", Kind.TIME),
    Column("escalate_at", "TIMESTAMPTZ", Kind.TIME),
    Column("escalated_at", "TIMESTAMPTZ", Kind.TIME),
    Column("decided_at", "TIMESTAMPTZ", Kind.TIME),
    Column("decided_by", "VARCHAR"),
    Column("reason", "VARCHAR"),
    Column("patch", "VARCHAR", Kind.JSON),
    Column("before_hash", "VARCHAR"),
    Column("after_hash", "VARCHAR"),
    Column("backfill_id", "VARCHAR"),
    Column("resumed_run_id", "VARCHAR"),
])


def insert(conn: DuckDBPyConnection, requests: Sequence[CheckpointRequest]) -> None:
    """Record new requests (or passes)."""
    if requests:
        conn.execute(CHECKPOINTS.insert_sql, CHECKPOINTS.insert_params(requests))


def get(conn: DuckDBPyConnection, request_id: str) -> CheckpointRequest:
    """A request by id or unique prefix."""
    rows = conn.execute(f"SELECT {CHECKPOINTS.select_list} FROM checkpoints WHERE "
                        "starts_with(request_id, ?) ORDER BY request_id LIMIT 6",
                        [request_id]).fetchall()
    exact = [r for r in rows if r[0] == request_id]
    rows = exact or rows
    if not rows:
        raise NotFoundError(f"no checkpoint request `{request_id}`",
                            hint="Run `flowstone checkpoints list`.")
    if len(rows) > 1:
        raise UsageError(f"`{request_id}` matches several requests", hint="Give more of the id.")
    return CHECKPOINTS.decode(rows[0])


def list_requests(conn: DuckDBPyConnection, *, status: str | None = None,
                  run_id: str | None = None, backfill_id: str | None = None,
                  limit: int = 100) -> list[CheckpointRequest]:
    """Requests, newest first, filtered by status, run or backfill."""
    conditions, params = ["status != 'passed'" if status is None else "status = ?"], []
    if status is not None:
        params.append(status)
    if run_id is not None:
        conditions.append("run_id = ?")
        params.append(run_id)
    if backfill_id is not None:
        conditions.append("backfill_id = ?")
        params.append(backfill_id)
    rows = conn.execute(f"SELECT {CHECKPOINTS.select_list} FROM checkpoints WHERE "
                        f"{' AND '.join(conditions)} ORDER BY requested_at DESC LIMIT ?",
                        [*params, limit]).fetchall()
    return CHECKPOINTS.decode_all(rows)


def decide(conn: DuckDBPyConnection, request_id: str, *, status: RequestStatus, outcome: str,
           by: str, reason: str | None, when: datetime, patch: dict[str, Any] | None = None,
           before_hash: str | None = None, after_hash: str | None = None) -> bool:
    """Record a decision on a request that is still pending; False if it was decided.

    `status` is approved, rejected or expired; `outcome` the effective decision (approved or
    rejected — for an expired request, the checkpoint's on_timeout).
    """
    rows = conn.execute(
        "UPDATE checkpoints SET status = ?, outcome = ?, decided_by = ?, reason = ?, "
        "decided_at = ?, patch = ?, before_hash = ?, after_hash = ? WHERE request_id = ? AND "
        "status = 'pending' RETURNING request_id",
        [status.value, outcome, by, reason, encode_time(when, column="decided_at"),
         CHECKPOINTS.encode(CHECKPOINTS.by_name["patch"], patch or {}), before_hash,
         after_hash, request_id]).fetchall()
    return bool(rows)


def update(conn: DuckDBPyConnection, request_id: str, **values: Any) -> None:
    """Set columns of a request (escalated_at, resumed_run_id...)."""
    clause, params = CHECKPOINTS.set_clause(values, protected=("request_id",))
    conn.execute(f"UPDATE checkpoints SET {clause} WHERE request_id = ?", [*params, request_id])


def latest_for(conn: DuckDBPyConnection, keys: Sequence[tuple[str, str | None]]
               ) -> dict[tuple[str, str | None], CheckpointRequest]:
    """The newest request (not pass) of each (checkpoint, partition) pair."""
    if not keys:
        return {}
    rows = conn.execute(f"SELECT {CHECKPOINTS.select_list} FROM checkpoints WHERE status != "
                        "'passed' AND (checkpoint || '|' || coalesce(partition, '')) IN "
                        "(SELECT UNNEST(?)) QUALIFY row_number() OVER (PARTITION BY checkpoint, "
                        "partition ORDER BY requested_at DESC) = 1",
                        [[f"{c}|{p or ''}" for c, p in keys]]).fetchall()
    return {(r.checkpoint, r.partition): r for r in CHECKPOINTS.decode_all(rows)}


def for_runs(conn: DuckDBPyConnection, run_ids: Sequence[str]) -> list[CheckpointRequest]:
    """Every request and pass recorded by these runs (for `runs show` and reports)."""
    rows = conn.execute(f"SELECT {CHECKPOINTS.select_list} FROM checkpoints WHERE run_id IN "
                        "(SELECT UNNEST(?)) ORDER BY requested_at", [list(run_ids)]).fetchall()
    return CHECKPOINTS.decode_all(rows)


def for_partitions(conn: DuckDBPyConnection, keys: Sequence[tuple[str, str | None]]
                   ) -> list[CheckpointRequest]:
    """Decided requests of these (checkpoint, partition) pairs (for lineage output)."""
    if not keys:
        return []
    rows = conn.execute(f"SELECT {CHECKPOINTS.select_list} FROM checkpoints WHERE "
                        "status NOT IN ('passed') AND (checkpoint || '|' || coalesce(partition, "
                        "'')) IN (SELECT UNNEST(?)) ORDER BY requested_at",
                        [[f"{c}|{p or ''}" for c, p in keys]]).fetchall()
    return CHECKPOINTS.decode_all(rows)


# -- notification outbox ------------------------------------------------------------------
def queue_notifications(conn: DuckDBPyConnection, items: Sequence[tuple[str, str, str, str]],
                        when: datetime) -> None:
    """Queue (id, target, event, payload JSON) notifications for delivery."""
    for notification_id, target, event, payload in items:
        conn.execute("INSERT INTO notifications VALUES (?, ?, ?, ?, ?, 0, NULL, NULL)",
                     [notification_id, target, event, payload,
                      encode_time(when, column="created_at")])


def pending_notifications(conn: DuckDBPyConnection, limit: int = 100
                          ) -> list[tuple[str, str, str, str, int]]:
    """Undelivered notifications, oldest first: (id, target, event, payload, attempts)."""
    return conn.execute("SELECT notification_id, target, event, payload, attempts FROM "
                        "notifications WHERE sent_at IS NULL ORDER BY created_at LIMIT ?",
                        [limit]).fetchall()


def mark_notification(conn: DuckDBPyConnection, notification_id: str, *, sent: bool,
                      error: str | None, when: datetime) -> None:
    """Record a delivery attempt."""
    conn.execute("UPDATE notifications SET attempts = attempts + 1, last_error = ?, "
                 "sent_at = ? WHERE notification_id = ?",
                 [error, encode_time(when, column="sent_at") if sent else None,
                  notification_id])

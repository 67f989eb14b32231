"""Schema v5: checkpoint requests and decisions, and the notification outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 5
DESCRIPTION = "checkpoint requests and decisions, notification outbox"

STATEMENTS: tuple[str, ...] = (
    # One row per request; its decision is recorded on the same row, once: deciding updates
    # only a row still `pending`, so two concurrent approvals cannot both win.
    """
    CREATE TABLE checkpoints (
        request_id VARCHAR PRIMARY KEY,
        checkpoint VARCHAR NOT NULL,
        partition VARCHAR,
        run_id VARCHAR NOT NULL,
        upstream_asset VARCHAR NOT NULL,
        upstream_step_id VARCHAR,
        status VARCHAR NOT NULL,
        outcome VARCHAR,
        summary VARCHAR,
        value_hash VARCHAR,
        requested_at TIMESTAMPTZ NOT NULL,
        timeout_at TIMESTAMPTZ,
        escalate_at TIMESTAMPTZ,
        escalated_at TIMESTAMPTZ,
        decided_at TIMESTAMPTZ,
        decided_by VARCHAR,
        reason VARCHAR,
        patch VARCHAR,
        before_hash VARCHAR,
        after_hash VARCHAR,
        backfill_id VARCHAR,
        resumed_run_id VARCHAR
    )
    """,
    """
    CREATE TABLE notifications (
        notification_id VARCHAR PRIMARY KEY,
        target VARCHAR NOT NULL,
        event VARCHAR NOT NULL,
        payload VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error VARCHAR,
        sent_at TIMESTAMPTZ
    )
    """,
)


def apply(conn: DuckDBPyConnection) -> None:
    """Create the v5 tables."""
    for statement in STATEMENTS:
        conn.execute(statement)

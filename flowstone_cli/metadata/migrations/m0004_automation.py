"""Schema v4: schedule ticks, sensor state and history, and sensor run keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 4
DESCRIPTION = "schedule ticks, automation state, sensor ticks and run keys"

STATEMENTS: tuple[str, ...] = (
    # One row per schedule fire time, claimed before the run is launched: the primary key is
    # what makes two overlapping `flowstone tick` processes launch a tick at most once.
    """
    CREATE TABLE schedule_ticks (
        schedule VARCHAR NOT NULL,
        fire_time TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL,
        run_id VARCHAR,
        partition_keys VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        message VARCHAR,
        PRIMARY KEY (schedule, fire_time)
    )
    """,
    """
    CREATE TABLE automation_state (
        name VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_evaluated TIMESTAMPTZ,
        cursor VARCHAR,
        last_status VARCHAR,
        last_message VARCHAR
    )
    """,
    """
    CREATE TABLE sensor_ticks (
        sensor VARCHAR NOT NULL,
        ts TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL,
        run_ids VARCHAR,
        message VARCHAR
    )
    """,
    """
    CREATE TABLE run_keys (
        sensor VARCHAR NOT NULL,
        run_key VARCHAR NOT NULL,
        run_id VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (sensor, run_key)
    )
    """,
)


def apply(conn: DuckDBPyConnection) -> None:
    """Create the v4 tables."""
    for statement in STATEMENTS:
        conn.execute(statement)

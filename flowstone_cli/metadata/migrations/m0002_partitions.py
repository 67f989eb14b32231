"""Schema v2: backfills and the keys of dynamic partitions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 2
DESCRIPTION = "backfills and dynamic partition keys"

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE backfills (
        backfill_id VARCHAR PRIMARY KEY,
        status VARCHAR NOT NULL,
        selection VARCHAR NOT NULL,
        exclude VARCHAR,
        partitions VARCHAR NOT NULL,
        force BOOLEAN NOT NULL DEFAULT false,
        max_parallel INTEGER,
        actor VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        ended_at TIMESTAMPTZ,
        summary VARCHAR
    )
    """,
    """
    CREATE TABLE dynamic_partitions (
        name VARCHAR NOT NULL,
        partition_key VARCHAR NOT NULL,
        added_at TIMESTAMPTZ NOT NULL,
        added_by VARCHAR,
        PRIMARY KEY (name, partition_key)
    )
    """,
)


def apply(conn: DuckDBPyConnection) -> None:
    """Create the v2 tables."""
    for statement in STATEMENTS:
        conn.execute(statement)

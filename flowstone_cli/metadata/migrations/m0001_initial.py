"""Schema v1: meta, runs, steps, lineage, events.

Design notes, measured with DuckDB 2.0 on 1,000,000 steps and 3,000,000 lineage rows (see
`bench/metadata_queries.py`):
- `steps` and `events` have no PRIMARY KEY. In DuckDB a key is an ART index: on `steps` it made
  the file 4.5x larger (60 MB vs 13 MB), a connect + 500-row batch + close 3x slower (~100 ms vs
  ~30 ms) and a 20-row batch ~60% slower (37 vs 22 ms). Ids are 64 random bits (`new_id()`), so
  uniqueness does not need the index; `upsert_steps` deletes then inserts.
- No secondary indexes: the lookups of `steps.py` and `lineage.py` are scans that DuckDB runs in
  ~15-30 ms at that size, and every index would slow the coordinator's batched inserts.
- `runs` keeps its primary key: it is small, written one row per run, and looked up by id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 1
DESCRIPTION = "initial schema: meta, runs, steps, lineage, events"

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    )
    """,
    """
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        status VARCHAR NOT NULL,
        "trigger" VARCHAR,
        selection VARCHAR,
        command VARCHAR,
        actor VARCHAR,
        host VARCHAR,
        pid INTEGER,
        flowstone_version VARCHAR,
        started_at TIMESTAMPTZ,
        ended_at TIMESTAMPTZ,
        heartbeat_at TIMESTAMPTZ,
        tags VARCHAR,            -- JSON object
        backfill_id VARCHAR,
        parent_run_id VARCHAR,
        summary VARCHAR          -- JSON object
    )
    """,
    """
    CREATE TABLE steps (
        step_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        asset VARCHAR NOT NULL,
        "partition" VARCHAR,     -- NULL = unpartitioned
        attempt INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        reason VARCHAR,
        started_at TIMESTAMPTZ,
        ended_at TIMESTAMPTZ,
        duration_ms DOUBLE,
        code_version VARCHAR,
        data_version VARCHAR,
        size_bytes BIGINT,
        "rows" BIGINT,
        uri VARCHAR,
        io_manager VARCHAR,
        pid INTEGER,
        host VARCHAR,
        error_code VARCHAR,
        error_message VARCHAR,
        traceback VARCHAR,
        metadata VARCHAR,        -- JSON object
        wiped BOOLEAN NOT NULL DEFAULT false
    )
    """,
    """
    CREATE TABLE lineage (
        step_id VARCHAR NOT NULL,
        upstream_step_id VARCHAR NOT NULL,
        upstream_asset VARCHAR NOT NULL,
        upstream_partition VARCHAR,
        upstream_data_version VARCHAR
    )
    """,
    """
    CREATE TABLE events (
        event_id VARCHAR NOT NULL,
        run_id VARCHAR,
        step_id VARCHAR,
        ts TIMESTAMPTZ NOT NULL,
        level VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        asset VARCHAR,
        "partition" VARCHAR,
        message VARCHAR,
        data VARCHAR             -- JSON object
    )
    """,
)


def apply(conn: DuckDBPyConnection) -> None:
    """Create the v1 tables (inside the caller's transaction)."""
    for statement in STATEMENTS:
        conn.execute(statement)

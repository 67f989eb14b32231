"""Schema v3: run ownership, planned steps and claims (crash detection, resume, no double work).

- `run_control`: one row per run written by this version, next to `runs` rather than in it so
  older readers of `runs` are unaffected. `process_token` identifies the coordinator process
  beyond its pid (boot id + process start time), so a reused pid is not mistaken for the run;
  `cancel_requested_at` is how `runs cancel` asks a run on another host to stop.
- `run_steps`: the steps a run planned to execute, written in the same session as the run, so
  a crashed run's unfinished steps can be recorded `abandoned` and resumed.
- `claims`: at most one row per (asset, partition) being computed right now, naming the run.
  No key or index (same reasoning as `steps`, see m0001): the table holds only the steps of
  live runs, and every write to it happens in the one write session a process holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 3
DESCRIPTION = "run ownership, planned steps and claims"

STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE run_control (
        run_id VARCHAR PRIMARY KEY,
        process_token VARCHAR,
        cancel_requested_at TIMESTAMPTZ,
        cancel_requested_by VARCHAR
    )
    """,
    """
    CREATE TABLE run_steps (
        run_id VARCHAR NOT NULL,
        asset VARCHAR NOT NULL,
        "partition" VARCHAR
    )
    """,
    """
    CREATE TABLE claims (
        asset VARCHAR NOT NULL,
        "partition" VARCHAR,
        run_id VARCHAR NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL
    )
    """,
)


def apply(conn: DuckDBPyConnection) -> None:
    """Create the v3 tables."""
    for statement in STATEMENTS:
        conn.execute(statement)

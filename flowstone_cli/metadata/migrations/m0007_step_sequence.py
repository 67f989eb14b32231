"""Schema v7: a per-store sequence number on every step row.

Which materialization is *current* must not depend on wall clocks: a run on a host whose clock
is a day behind records `ended_at` values in the past, and ordering by them would keep an older
value current while the file holds the newer one. `steps.seq` is assigned from the store's own
sequence when the row is inserted (the coordinator records a step only after its value is
published), so the row recorded last is the newest, whatever the clocks say. Existing rows are
numbered in their old order (end time, start time, attempt, id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 7
DESCRIPTION = "steps.seq: the order in which steps were recorded, from a per-store sequence"


def apply(conn: DuckDBPyConnection) -> None:
    """Add and fill `steps.seq`, then make new rows draw it from `steps_seq`."""
    conn.execute("ALTER TABLE steps ADD COLUMN seq BIGINT")
    conn.execute("""
        UPDATE steps SET seq = numbered.n
        FROM (SELECT rowid AS rid, row_number() OVER (
                  ORDER BY ended_at NULLS FIRST, started_at NULLS FIRST, attempt, step_id) AS n
              FROM steps) AS numbered
        WHERE steps.rowid = numbered.rid
    """)
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM steps").fetchone()
    start = int(row[0] if row else 0) + 1
    # DDL takes no parameters; `start` is an integer computed here, not input.
    conn.execute(f"CREATE SEQUENCE steps_seq START {start}")
    conn.execute("ALTER TABLE steps ALTER COLUMN seq SET DEFAULT nextval('steps_seq')")

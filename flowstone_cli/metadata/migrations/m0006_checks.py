"""Schema v6: results of asset checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

VERSION = 6
DESCRIPTION = "asset check results"

STATEMENTS: tuple[str, ...] = (
    # One row per evaluation of one check on one materialization: by the step that stored the
    # value (run_id set), or by `flowstone check-assets` on the stored value (run_id NULL).
    # The newest row per (materialization, check) is that check's verdict on the value.
    """
    CREATE TABLE checks (
        check_id VARCHAR NOT NULL,
        check_name VARCHAR NOT NULL,
        asset VARCHAR NOT NULL,
        partition VARCHAR,
        materialization VARCHAR NOT NULL,
        run_id VARCHAR,
        passed BOOLEAN NOT NULL,
        severity VARCHAR NOT NULL,
        blocking BOOLEAN NOT NULL,
        message VARCHAR,
        metadata VARCHAR,
        executed_at TIMESTAMPTZ NOT NULL
    )
    """,
    "CREATE INDEX checks_materialization ON checks (materialization)",
)


def apply(conn: DuckDBPyConnection) -> None:
    """Create the `checks` table."""
    for statement in STATEMENTS:
        conn.execute(statement)

"""SQL of the `events` table: the structured log of runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowstone_cli.metadata.codec import Column, Kind, Table
from flowstone_cli.metadata.records import EventRecord
from flowstone_cli.metadata.statuses import EventLevel

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

EVENTS: Table[EventRecord] = Table("events", EventRecord, [
    Column("event_id", "VARCHAR"),
    Column("run_id", "VARCHAR"),
    Column("step_id", "VARCHAR"),
    Column("ts", "TIMESTAMPTZ", Kind.TIME),
    Column("level", "VARCHAR", Kind.ENUM, EventLevel),
    Column("kind", "VARCHAR"),
    Column("asset", "VARCHAR"),
    Column("partition", "VARCHAR"),
    Column("message", "VARCHAR"),
    Column("data", "VARCHAR", Kind.JSON),
])

# Events recorded in the same clock tick keep the order they were inserted in (rowid).
_FOR_RUN = f"SELECT {EVENTS.select_list} FROM events WHERE run_id = ? ORDER BY ts, rowid"
_FOR_RUN_KINDS = (f"SELECT {EVENTS.select_list} FROM events "
                  "WHERE run_id = ? AND kind IN (SELECT UNNEST(?::VARCHAR[])) ORDER BY ts, rowid")


def insert(conn: DuckDBPyConnection, events: Sequence[EventRecord]) -> None:
    """Insert a batch of events in one statement."""
    if events:
        conn.execute(EVENTS.insert_sql, EVENTS.insert_params(events))


def for_run(conn: DuckDBPyConnection, run_id: str,
            kinds: Sequence[str] | None) -> list[EventRecord]:
    """The events of one run by time, optionally only some kinds."""
    if kinds is None:
        return EVENTS.decode_all(conn.execute(_FOR_RUN, [run_id]).fetchall())
    if not kinds:
        return []
    rows = conn.execute(_FOR_RUN_KINDS, [run_id, [str(k) for k in kinds]]).fetchall()
    return EVENTS.decode_all(rows)

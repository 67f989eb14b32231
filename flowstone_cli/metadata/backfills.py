"""SQL of the `backfills` and `dynamic_partitions` tables, and the backfill status grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import NotFoundError, UsageError
from flowstone_cli.metadata.codec import Column, Kind, Table, encode_time
from flowstone_cli.metadata.records import plain
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.steps import STEPS

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection


class BackfillStatus(str, Enum):
    """States of a backfill."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    CRASHED = "crashed"
    WAITING_APPROVAL = "waiting_approval"


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    """One backfill: a selection over a set of partitions, run by one or more runs.

    Attributes:
        backfill_id: id (`bf-` + time-sortable run-style id).
        status: current state.
        selection: the selection expression.
        exclude: the `--exclude` expression, if any.
        partitions: how partitions were chosen: {"from": K, "to": K} | {"keys": [...]} | {"all": true}.
        force: whether up-to-date steps run anyway.
        max_parallel: at most this many partitions in flight.
        actor: who started it.
        created_at, ended_at: times (UTC).
        summary: counts written when a run of it ends.
    """

    backfill_id: str
    status: BackfillStatus
    selection: str
    exclude: str | None
    partitions: dict[str, Any]
    force: bool = False
    max_parallel: int | None = None
    actor: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


BACKFILLS: Table[BackfillRecord] = Table("backfills", BackfillRecord, [
    Column("backfill_id", "VARCHAR"),
    Column("status", "VARCHAR", Kind.ENUM, BackfillStatus),
    Column("selection", "VARCHAR"),
    Column("exclude", "VARCHAR"),
    Column("partitions", "VARCHAR", Kind.JSON),
    Column("force", "BOOLEAN"),
    Column("max_parallel", "INTEGER"),
    Column("actor", "VARCHAR"),
    Column("created_at", "TIMESTAMPTZ", Kind.TIME),
    Column("ended_at", "TIMESTAMPTZ", Kind.TIME),
    Column("summary", "VARCHAR", Kind.JSON),
])


def insert(conn: DuckDBPyConnection, record: BackfillRecord) -> None:
    """Record a new backfill."""
    conn.execute(BACKFILLS.insert_sql, BACKFILLS.insert_params([record]))


def update(conn: DuckDBPyConnection, backfill_id: str, values: Mapping[str, Any]) -> None:
    """Set columns of a backfill."""
    clause, params = BACKFILLS.set_clause(values, protected=("backfill_id",))
    conn.execute(f"UPDATE backfills SET {clause} WHERE backfill_id = ?", [*params, backfill_id])


def get(conn: DuckDBPyConnection, backfill_id: str) -> BackfillRecord:
    """The backfill with this id or unique prefix."""
    rows = conn.execute(f"SELECT {BACKFILLS.select_list} FROM backfills WHERE "
                        "starts_with(backfill_id, ?) ORDER BY backfill_id LIMIT 6",
                        [backfill_id]).fetchall()
    exact = [r for r in rows if r[0] == backfill_id]
    if exact:
        rows = exact
    if not rows:
        raise NotFoundError(f"no backfill `{backfill_id}`",
                            hint="Run `flowstone backfill list` to see backfills.")
    if len(rows) > 1:
        raise UsageError(f"`{backfill_id}` matches several backfills: "
                         f"{', '.join(r[0] for r in rows[:5])}", hint="Give more of the id.")
    return BACKFILLS.decode(rows[0])


def list_all(conn: DuckDBPyConnection, limit: int) -> list[BackfillRecord]:
    """Newest backfills first."""
    rows = conn.execute(f"SELECT {BACKFILLS.select_list} FROM backfills "
                        "ORDER BY created_at DESC LIMIT ?", [limit]).fetchall()
    return BACKFILLS.decode_all(rows)


def latest_steps(conn: DuckDBPyConnection, backfill_id: str) -> list[StepRecord]:
    """The latest step row per (asset, partition) over every run of the backfill."""
    rows = conn.execute(
        f"SELECT {STEPS.select_list} FROM (SELECT s.* FROM steps s JOIN runs r "
        "ON r.run_id = s.run_id WHERE r.backfill_id = ? QUALIFY row_number() OVER ("
        "PARTITION BY s.asset, s.partition ORDER BY s.seq DESC) = 1) ORDER BY asset, partition", [backfill_id]).fetchall()
    return STEPS.decode_all(rows)


def succeeded_keys(conn: DuckDBPyConnection, backfill_id: str) -> set[tuple[str, str | None]]:
    """(asset, partition) pairs materialized (or found up to date) by runs of the backfill."""
    rows = conn.execute(
        "SELECT DISTINCT s.asset, s.partition FROM steps s JOIN runs r ON r.run_id = s.run_id "
        "WHERE r.backfill_id = ? AND s.status IN ('succeeded', 'up_to_date')",
        [backfill_id]).fetchall()
    return {(a, p) for a, p in rows}


def dynamic_keys(conn: DuckDBPyConnection, names: Sequence[str] | None = None
                 ) -> dict[str, list[str]]:
    """Registered keys of dynamic partitions, by name, in the order they were added."""
    if names is None:
        rows = conn.execute("SELECT name, partition_key FROM dynamic_partitions "
                            "ORDER BY name, added_at, partition_key").fetchall()
    else:
        rows = conn.execute("SELECT name, partition_key FROM dynamic_partitions WHERE name IN "
                            "(SELECT UNNEST(?)) ORDER BY name, added_at, partition_key",
                            [list(names)]).fetchall()
    keys: dict[str, list[str]] = {}
    for name, key in rows:
        keys.setdefault(name, []).append(key)
    return keys


def add_dynamic_keys(conn: DuckDBPyConnection, name: str, keys: Sequence[str], when: datetime,
                     by: str | None) -> list[str]:
    """Register keys (existing ones are left alone); returns the keys that were new."""
    existing = set(dynamic_keys(conn, [name]).get(name, []))
    new = [k for k in dict.fromkeys(keys) if k not in existing]
    if new:
        conn.execute("INSERT INTO dynamic_partitions SELECT ?, UNNEST(?::VARCHAR[]), ?, ?",
                     [name, new, encode_time(when, column="added_at"), by])
    return new


def remove_dynamic_keys(conn: DuckDBPyConnection, name: str, keys: Sequence[str]) -> list[str]:
    """Unregister keys; returns those that were registered."""
    existing = set(dynamic_keys(conn, [name]).get(name, []))
    gone = [k for k in dict.fromkeys(keys) if k in existing]
    if gone:
        conn.execute("DELETE FROM dynamic_partitions WHERE name = ? AND partition_key IN "
                     "(SELECT UNNEST(?))", [name, gone])
    return gone


_CRASH_WITH_RUNS = """
    UPDATE backfills SET status = ?, ended_at = ?
    WHERE status = ?
      AND backfill_id IN (SELECT backfill_id FROM runs
                          WHERE run_id IN (SELECT UNNEST(?::VARCHAR[])) AND backfill_id IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM runs r
                      WHERE r.backfill_id = backfills.backfill_id AND r.status = ?)
    RETURNING backfill_id
"""


def crash_with_runs(conn: DuckDBPyConnection, run_ids: Sequence[str], now: datetime
                    ) -> list[str]:
    """Mark `running` backfills whose runs among `run_ids` crashed, and which have no other run
    still running, as `crashed` (resumable with `backfill resume`); returns their ids.

    Called in the same session that marks the runs crashed, so a backfill's state follows its
    runs whichever command finds the dead run first.
    """
    if not run_ids:
        return []
    rows = conn.execute(_CRASH_WITH_RUNS, [BackfillStatus.CRASHED.value, encode_time(now),
                                           BackfillStatus.RUNNING.value, list(run_ids),
                                           RunStatus.RUNNING.value]).fetchall()
    return [row[0] for row in rows]

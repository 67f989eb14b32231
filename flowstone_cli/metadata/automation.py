"""SQL of the automation tables: schedule ticks, automation state, sensor ticks, run keys."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flowstone_cli.metadata.codec import encode_time

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class ScheduleTick:
    """One claimed fire time of a schedule and what became of it."""

    schedule: str
    fire_time: datetime
    status: str
    run_id: str | None
    partition_keys: list[str | None]
    created_at: datetime
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"schedule": self.schedule, "fire_time": self.fire_time.isoformat(),
                "status": self.status, "run_id": self.run_id,
                "partitions": self.partition_keys, "message": self.message}


@dataclass(frozen=True)
class AutomationState:
    """Per schedule or sensor: when first seen, last evaluated, the sensor cursor."""

    name: str
    kind: str
    first_seen: datetime
    last_evaluated: datetime | None
    cursor: str | None
    last_status: str | None
    last_message: str | None


_TICK_COLUMNS = ("schedule, epoch_us(fire_time), status, run_id, partition_keys, "
                 "epoch_us(created_at), message")


def _tick(row: Sequence[Any]) -> ScheduleTick:
    return ScheduleTick(row[0], _time(row[1]), row[2], row[3],  # type: ignore[arg-type]
                        json.loads(row[4]) if row[4] else [], _time(row[5]),  # type: ignore
                        row[6])


def claim_tick(conn: DuckDBPyConnection, schedule: str, fire_time: datetime,
               partitions: Sequence[str | None], now: datetime) -> bool:
    """Claim a fire time for launching; False when another tick already claimed it."""
    rows = conn.execute(
        "INSERT INTO schedule_ticks VALUES (?, ?, 'launching', NULL, ?, ?, NULL) "
        "ON CONFLICT DO NOTHING RETURNING schedule",
        [schedule, encode_time(fire_time, column="fire_time"), json.dumps(list(partitions)),
         encode_time(now, column="created_at")]).fetchall()
    return bool(rows)


def finish_tick(conn: DuckDBPyConnection, schedule: str, fire_time: datetime, status: str,
                run_id: str | None, message: str | None) -> None:
    """Record the outcome of a claimed tick (launched, skipped, failed)."""
    conn.execute("UPDATE schedule_ticks SET status = ?, run_id = ?, message = ? "
                 "WHERE schedule = ? AND fire_time = ?",
                 [status, run_id, message, schedule,
                  encode_time(fire_time, column="fire_time")])


def last_ticks(conn: DuckDBPyConnection) -> dict[str, ScheduleTick]:
    """The latest recorded tick of every schedule."""
    rows = conn.execute(f"SELECT {_TICK_COLUMNS} FROM schedule_ticks QUALIFY row_number() "
                        "OVER (PARTITION BY schedule ORDER BY fire_time DESC) = 1").fetchall()
    return {row[0]: _tick(row) for row in rows}


def ticks_for(conn: DuckDBPyConnection, schedule: str, limit: int) -> list[ScheduleTick]:
    """Newest ticks of a schedule first."""
    rows = conn.execute(f"SELECT {_TICK_COLUMNS} FROM schedule_ticks WHERE schedule = ? "
                        "ORDER BY fire_time DESC LIMIT ?", [schedule, limit]).fetchall()
    return [_tick(row) for row in rows]


def states(conn: DuckDBPyConnection) -> dict[str, AutomationState]:
    """The state of every schedule and sensor ever evaluated."""
    rows = conn.execute("SELECT name, kind, epoch_us(first_seen), epoch_us(last_evaluated), "
                        "cursor, last_status, last_message FROM automation_state").fetchall()
    return {r[0]: AutomationState(r[0], r[1], _time(r[2]), _time(r[3]), r[4], r[5], r[6])
            for r in rows}  # type: ignore[arg-type]


def save_state(conn: DuckDBPyConnection, state: AutomationState) -> None:
    """Insert or replace one automation state row."""
    conn.execute("INSERT OR REPLACE INTO automation_state VALUES (?, ?, ?, ?, ?, ?, ?)",
                 [state.name, state.kind, encode_time(state.first_seen, column="first_seen"),
                  encode_time(state.last_evaluated, column="last_evaluated")
                  if state.last_evaluated else None, state.cursor, state.last_status,
                  state.last_message])


def claim_run_key(conn: DuckDBPyConnection, sensor: str, run_key: str, now: datetime) -> bool:
    """Claim a sensor run key; False when it was launched (or claimed) before."""
    rows = conn.execute("INSERT INTO run_keys VALUES (?, ?, NULL, ?) ON CONFLICT DO NOTHING "
                        "RETURNING run_key",
                        [sensor, run_key, encode_time(now, column="created_at")]).fetchall()
    return bool(rows)


def set_run_key_run(conn: DuckDBPyConnection, sensor: str, run_key: str, run_id: str) -> None:
    """Attach the launched run to a claimed run key."""
    conn.execute("UPDATE run_keys SET run_id = ? WHERE sensor = ? AND run_key = ?",
                 [run_id, sensor, run_key])


def known_run_keys(conn: DuckDBPyConnection, sensor: str, keys: Sequence[str]) -> set[str]:
    """Which of `keys` the sensor has already claimed."""
    if not keys:
        return set()
    rows = conn.execute("SELECT run_key FROM run_keys WHERE sensor = ? AND run_key IN "
                        "(SELECT UNNEST(?))", [sensor, list(keys)]).fetchall()
    return {r[0] for r in rows}


def record_sensor_tick(conn: DuckDBPyConnection, sensor: str, ts: datetime, status: str,
                       run_ids: Sequence[str], message: str | None) -> None:
    """Append one evaluation to a sensor's history."""
    conn.execute("INSERT INTO sensor_ticks VALUES (?, ?, ?, ?, ?)",
                 [sensor, encode_time(ts, column="ts"), status, json.dumps(list(run_ids)),
                  message])


def materializations_since(conn: DuckDBPyConnection, assets: Sequence[str],
                           after: datetime | None) -> list[dict[str, Any]]:
    """Successful materializations of `assets` that ended after `after`, oldest first."""
    rows = conn.execute(
        "SELECT asset, partition, step_id, epoch_us(ended_at) FROM steps WHERE status = "
        "'succeeded' AND asset IN (SELECT UNNEST(?)) AND (? IS NULL OR ended_at > ?) "
        "ORDER BY ended_at, step_id",
        [list(assets), encode_time(after, column="after") if after else None,
         encode_time(after, column="after") if after else None]).fetchall()
    return [{"asset": a, "partition": p, "step_id": s, "ended_at": _time(t)}
            for a, p, s, t in rows]


def last_sensor_ticks(conn: DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """The latest evaluation of every sensor: time, status, launched run ids, message."""
    rows = conn.execute("SELECT sensor, epoch_us(ts), status, run_ids, message FROM "
                        "sensor_ticks QUALIFY row_number() OVER (PARTITION BY sensor ORDER BY "
                        "ts DESC) = 1").fetchall()
    return {r[0]: {"ts": _time(r[1]), "status": r[2],
                   "run_ids": json.loads(r[3]) if r[3] else [], "message": r[4]} for r in rows}

"""SQL of run ownership: `run_control`, `run_steps` and `claims` (schema v3), and crash reaping.

A claim says "run R is computing asset x partition right now". Every read-then-write on these
tables happens inside one write session, and DuckDB lets one process hold the file read-write at
a time, so checking for a claim and inserting one are atomic across processes without a key.
Keys travel as two list parameters (assets, partitions) joined with `IS NOT DISTINCT FROM`, so a
NULL partition (unpartitioned asset) matches itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from flowstone_cli.metadata.backfills import crash_with_runs as crash_backfills
from flowstone_cli.metadata.codec import encode_json, encode_time
from flowstone_cli.metadata.ids import new_id
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import RunStatus, StepStatus
from flowstone_cli.metadata.steps import STEPS
from flowstone_cli.metadata.steps import insert as insert_steps

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

Key = tuple[str, str | None]  # (asset, partition)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# A derived table of the given keys; `?` twice: the assets, then the partitions.
_KEYS = '(SELECT UNNEST(?::VARCHAR[]) AS asset, UNNEST(?::VARCHAR[]) AS "partition")'
_SAME_KEY = 'c.asset = k.asset AND c."partition" IS NOT DISTINCT FROM k."partition"'

_RUNNING = """
    SELECT r.run_id, r.host, r.pid, epoch_us(r.started_at), epoch_us(r.heartbeat_at),
           c.process_token, epoch_us(c.cancel_requested_at)
    FROM runs r LEFT JOIN run_control c USING (run_id)
    WHERE r.status = ?
    ORDER BY r.run_id
"""
_INSERT_CONTROL = "INSERT INTO run_control (run_id, process_token) VALUES (?, ?)"
_INSERT_RUN_STEPS = ('INSERT INTO run_steps (run_id, asset, "partition") '
                     "SELECT ?, UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[])")
_PLANNED = 'SELECT asset, "partition" FROM run_steps WHERE run_id = ? ORDER BY rowid'
_CLAIMS_ON = (f'SELECT c.asset, c."partition", c.run_id, epoch_us(c.claimed_at) FROM claims c '
              f"JOIN {_KEYS} k ON {_SAME_KEY}")
_CLAIM = ('INSERT INTO claims (asset, "partition", run_id, claimed_at) '
          "SELECT UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), ?, ?")
_RELEASE = (f"DELETE FROM claims c USING {_KEYS} k WHERE c.run_id = ? AND {_SAME_KEY}")
_RELEASE_ALL = "DELETE FROM claims WHERE run_id IN (SELECT UNNEST(?::VARCHAR[]))"
_CANCEL_REQUESTED = "SELECT cancel_requested_at IS NOT NULL FROM run_control WHERE run_id = ?"
_REQUEST_CANCEL = """
    INSERT INTO run_control (run_id, cancel_requested_at, cancel_requested_by) VALUES (?, ?, ?)
    ON CONFLICT (run_id) DO UPDATE SET cancel_requested_at = excluded.cancel_requested_at,
                                       cancel_requested_by = excluded.cancel_requested_by
"""
_MARK_CRASHED = """
    UPDATE runs SET status = ?, ended_at = coalesce(heartbeat_at, started_at, ?), summary = ?
    WHERE run_id = ? AND status = ?
"""
# Planned steps of the given runs with no step row at all: they never ended.
_UNFINISHED = """
    SELECT p.run_id, p.asset, p."partition" FROM run_steps p
    WHERE p.run_id IN (SELECT UNNEST(?::VARCHAR[]))
      AND NOT EXISTS (SELECT 1 FROM steps s WHERE s.run_id = p.run_id AND s.asset = p.asset
                      AND s."partition" IS NOT DISTINCT FROM p."partition")
    ORDER BY p.rowid
"""
_LATEST_OF_KEYS = f"""
    SELECT {STEPS.select_list} FROM steps
    WHERE rowid IN (
        SELECT arg_max(c.rowid, c.seq)
        FROM steps c JOIN {_KEYS} k ON {_SAME_KEY}
        WHERE c.status = ? AND NOT c.wiped
        GROUP BY c.asset, c."partition"
    )
"""


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A run recorded as running, with what tells whether its coordinator still lives.

    Attributes:
        run_id: the run.
        host: the machine its coordinator runs on.
        pid: the coordinator's process id there.
        started_at: when the run started.
        heartbeat_at: the coordinator's last sign of life.
        process_token: boot id and start time of the coordinator process (None before v3).
        cancel_requested_at: when `runs cancel` asked it to stop, if it did.
    """

    run_id: str
    host: str | None
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    process_token: str | None
    cancel_requested_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claim:
    """One asset partition being computed by a run right now."""

    asset: str
    partition: str | None
    run_id: str
    claimed_at: datetime


def _time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _columns(keys: Iterable[Key]) -> tuple[list[str], list[str | None]]:
    assets: list[str] = []
    partitions: list[str | None] = []
    for asset, partition in keys:
        assets.append(asset)
        partitions.append(partition)
    return assets, partitions


def running_runs(conn: DuckDBPyConnection) -> list[LiveRun]:
    """Every run whose status is `running`, with its process token and cancel request."""
    rows = conn.execute(_RUNNING, [RunStatus.RUNNING.value]).fetchall()
    return [LiveRun(run_id, host, pid, _time(started), _time(beat), token, _time(cancel))
            for run_id, host, pid, started, beat, token, cancel in rows]


def record_ownership(conn: DuckDBPyConnection, run_id: str, process_token: str | None,
                     planned: Sequence[Key]) -> None:
    """Record who runs `run_id` and the steps it plans to execute (one statement each)."""
    conn.execute(_INSERT_CONTROL, [run_id, process_token])
    if planned:
        conn.execute(_INSERT_RUN_STEPS, [run_id, *_columns(planned)])


def planned_steps(conn: DuckDBPyConnection, run_id: str) -> list[Key]:
    """The steps a run planned to execute, in plan order ([] for runs before schema v3)."""
    return [(a, p) for a, p in conn.execute(_PLANNED, [run_id]).fetchall()]


def claims_on(conn: DuckDBPyConnection, keys: Sequence[Key]) -> dict[Key, Claim]:
    """The current claims on any of `keys`."""
    if not keys:
        return {}
    rows = conn.execute(_CLAIMS_ON, list(_columns(keys))).fetchall()
    return {(a, p): Claim(a, p, run_id, _time(at) or _EPOCH) for a, p, run_id, at in rows}


def claim(conn: DuckDBPyConnection, run_id: str, keys: Sequence[Key], now: datetime) -> None:
    """Claim `keys` for `run_id` (the caller checked in this session that nobody holds them)."""
    if keys:
        conn.execute(_CLAIM, [*_columns(keys), run_id, encode_time(now)])


def release(conn: DuckDBPyConnection, run_id: str, keys: Sequence[Key]) -> None:
    """Drop `run_id`'s claims on `keys`."""
    if keys:
        conn.execute(_RELEASE, [*_columns(keys), run_id])


def release_all(conn: DuckDBPyConnection, run_ids: Sequence[str]) -> None:
    """Drop every claim of the given runs."""
    if run_ids:
        conn.execute(_RELEASE_ALL, [list(run_ids)])


def cancel_requested(conn: DuckDBPyConnection, run_id: str) -> bool:
    """Whether `runs cancel` asked this run to stop."""
    row = conn.execute(_CANCEL_REQUESTED, [run_id]).fetchone()
    return bool(row and row[0])


def request_cancel(conn: DuckDBPyConnection, run_id: str, by: str, now: datetime) -> None:
    """Ask a run to cancel itself at its next flush."""
    conn.execute(_REQUEST_CANCEL, [run_id, encode_time(now), by])


def reap(conn: DuckDBPyConnection, reasons: dict[str, str], now: datetime) -> list[str]:
    """Record runs whose coordinator is gone as `crashed` and their unfinished steps `abandoned`.

    A run is touched only if it is still `running` inside this session (it may have finished
    since the caller looked). Its claims are dropped so other runs can take its steps over.

    Args:
        reasons: run id -> why it is considered dead (kept in the run's summary).
        now: the time written on abandoned steps.

    Returns:
        The ids of the runs marked crashed.
    """
    reaped = []
    for run_id, reason in reasons.items():
        row = conn.execute(_MARK_CRASHED, [RunStatus.CRASHED.value, encode_time(now),
                                           encode_json({"crashed": reason}), run_id,
                                           RunStatus.RUNNING.value]).fetchone()
        if row and row[0]:
            reaped.append(run_id)
    if not reaped:
        return []
    rows = conn.execute(_UNFINISHED, [reaped]).fetchall()
    insert_steps(conn, [StepRecord(
        step_id=new_id(), run_id=run_id, asset=asset, partition=partition, attempt=0,
        status=StepStatus.ABANDONED, reason=f"run crashed: {reasons[run_id]}", started_at=now,
        ended_at=now, duration_ms=0.0) for run_id, asset, partition in rows])
    release_all(conn, reaped)
    for run_id in reaped:
        _summarise_crashed(conn, run_id, reasons[run_id])
    crash_backfills(conn, reaped, now)
    return reaped


# The last row of each step of a run (by the store's sequence), counted by status.
_COUNTS = """
    SELECT status, count(*) FROM (
        SELECT status FROM steps WHERE run_id = ?
        QUALIFY row_number() OVER (PARTITION BY asset, "partition" ORDER BY seq DESC) = 1)
    GROUP BY status ORDER BY status
"""
# A crashed run lasted until its last sign of life: its heartbeat or the end of its last step.
_CRASHED_END = """
    UPDATE runs SET ended_at = greatest(ended_at, coalesce(
        (SELECT max(s.ended_at) FROM steps s WHERE s.run_id = runs.run_id
         AND s.status <> 'abandoned'), ended_at))
    WHERE run_id = ?
    RETURNING epoch(ended_at) - epoch(started_at)
"""


def _summarise_crashed(conn: DuckDBPyConnection, run_id: str, reason: str) -> None:
    """Give a crashed run the summary a finished one has: counts from its step rows and how
    long it really ran."""
    counts = {status: n for status, n in conn.execute(_COUNTS, [run_id]).fetchall()}
    row = conn.execute(_CRASHED_END, [run_id]).fetchone()
    duration = round(float(row[0]), 3) if row and row[0] is not None else 0.0
    failed = [a if p is None else f"{a}[{p}]" for a, p in conn.execute(
        'SELECT asset, "partition" FROM steps WHERE run_id = ? AND status IN '
        "('failed', 'timed_out') ORDER BY asset, \"partition\"", [run_id]).fetchall()]
    conn.execute("UPDATE runs SET summary = ? WHERE run_id = ?",
                 [encode_json({"crashed": reason, "counts": counts, "duration_s": duration,
                               "failed": failed}), run_id])


def latest_of_keys(conn: DuckDBPyConnection, keys: Sequence[Key]) -> dict[Key, StepRecord]:
    """The latest succeeded, not wiped step of each of `keys` that has one."""
    if not keys:
        return {}
    rows = conn.execute(_LATEST_OF_KEYS, [*_columns(keys), StepStatus.SUCCEEDED.value]).fetchall()
    records = STEPS.decode_all(rows)
    return {(r.asset, r.partition): r for r in records}

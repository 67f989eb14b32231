"""SQL of the `runs` table: one row per run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import NotFoundError, UsageError
from flowstone_cli.metadata.codec import Column, Kind, Table
from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

RUNS: Table[RunRecord] = Table("runs", RunRecord, [
    Column("run_id", "VARCHAR"),
    Column("status", "VARCHAR", Kind.ENUM, RunStatus),
    Column("trigger", "VARCHAR"),
    Column("selection", "VARCHAR"),
    Column("command", "VARCHAR"),
    Column("actor", "VARCHAR"),
    Column("host", "VARCHAR"),
    Column("pid", "INTEGER"),
    Column("flowstone_version", "VARCHAR"),
    Column("started_at", "TIMESTAMPTZ", Kind.TIME),
    Column("ended_at", "TIMESTAMPTZ", Kind.TIME),
    Column("heartbeat_at", "TIMESTAMPTZ", Kind.TIME),
    Column("tags", "VARCHAR", Kind.JSON),
    Column("backfill_id", "VARCHAR"),
    Column("parent_run_id", "VARCHAR"),
    Column("summary", "VARCHAR", Kind.JSON),
])

MIN_PREFIX = 4  # shorter prefixes match too many runs to be a useful way to name one
_SHOWN_CANDIDATES = 5

_NEWEST_FIRST = "ORDER BY started_at DESC NULLS LAST, run_id DESC"
_BY_ID = f"SELECT {RUNS.select_list} FROM runs WHERE run_id = ?"
_BY_PREFIX = (f"SELECT {RUNS.select_list} FROM runs WHERE starts_with(run_id, ?) "
              f"ORDER BY run_id LIMIT ?")
_LIST = f"SELECT {RUNS.select_list} FROM runs {_NEWEST_FIRST} LIMIT ?"
_LIST_STATUS = f"SELECT {RUNS.select_list} FROM runs WHERE status = ? {_NEWEST_FIRST} LIMIT ?"
_ALL_STATUS = f"SELECT {RUNS.select_list} FROM runs WHERE status = ? {_NEWEST_FIRST}"


def insert(conn: DuckDBPyConnection, run: RunRecord) -> None:
    """Insert one run (its id must be new)."""
    conn.execute(RUNS.insert_sql, RUNS.insert_params([run]))


def update(conn: DuckDBPyConnection, run_id: str, fields: Mapping[str, Any]) -> None:
    """Set the given columns of one run.

    Raises:
        ValueError: a field is not a column of `runs`, or is `run_id`.
        NotFoundError: no run has this exact id.
    """
    clause, params = RUNS.set_clause(fields, protected=("run_id",))
    # `clause` holds only column names validated against RUNS; values are parameters.
    result = conn.execute(f"UPDATE runs SET {clause} WHERE run_id = ?", [*params, run_id])
    if _count(result.fetchone()) == 0:
        raise NotFoundError(f"run {run_id!r} not found", hint="Run `flowstone runs list`.")


def get(conn: DuckDBPyConnection, run_id: str) -> RunRecord:
    """The run with this exact id, or the only run whose id starts with it (>= 4 characters).

    Raises:
        NotFoundError: no run matches.
        UsageError: the prefix matches several runs.
    """
    row = conn.execute(_BY_ID, [run_id]).fetchone()
    if row is not None:
        return RUNS.decode(row)
    if len(run_id) >= MIN_PREFIX:
        rows = conn.execute(_BY_PREFIX, [run_id, _SHOWN_CANDIDATES + 1]).fetchall()
        if len(rows) == 1:
            return RUNS.decode(rows[0])
        if rows:
            shown = ", ".join(r[0] for r in rows[:_SHOWN_CANDIDATES])
            more = ", ..." if len(rows) > _SHOWN_CANDIDATES else ""
            raise UsageError(f"run id prefix {run_id!r} matches several runs: {shown}{more}",
                             hint="Give more characters of the run id.")
    hint = "Run `flowstone runs list` to see run ids."
    if len(run_id) < MIN_PREFIX:
        hint += f" A prefix must have at least {MIN_PREFIX} characters."
    raise NotFoundError(f"run {run_id!r} not found", hint=hint)


def list_recent(conn: DuckDBPyConnection, *, limit: int, status: str | None) -> list[RunRecord]:
    """Up to `limit` runs, newest first, optionally only those with `status`."""
    if limit < 0:
        raise UsageError(f"limit must be 0 or more, got {limit}")
    if status is None:
        return RUNS.decode_all(conn.execute(_LIST, [limit]).fetchall())
    rows = conn.execute(_LIST_STATUS, [parse_status(status).value, limit]).fetchall()
    return RUNS.decode_all(rows)


def with_status(conn: DuckDBPyConnection, status: str) -> list[RunRecord]:
    """Every run with `status`, newest first."""
    return RUNS.decode_all(conn.execute(_ALL_STATUS, [parse_status(status).value]).fetchall())


def parse_status(status: str) -> RunStatus:
    """`status` as a `RunStatus`.

    Raises:
        UsageError: it is not a run status (it typically comes from a `--status` option).
    """
    try:
        return RunStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise UsageError(f"unknown run status {status!r}", hint=f"Use one of: {known}.") from None


def _count(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0

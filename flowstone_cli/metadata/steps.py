"""SQL of the `steps` table: one row per asset x partition x attempt.

There is no primary key on `step_id` (see `migrations/m0001_initial.py`), so an upsert is a delete
followed by an insert inside the session's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import NotFoundError
from flowstone_cli.metadata.codec import Column, Kind, Table
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import FINAL_STEP_STATUSES, StepStatus

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

STEPS: Table[StepRecord] = Table("steps", StepRecord, [
    Column("step_id", "VARCHAR"),
    Column("run_id", "VARCHAR"),
    Column("asset", "VARCHAR"),
    Column("partition", "VARCHAR"),
    Column("attempt", "INTEGER"),
    Column("status", "VARCHAR", Kind.ENUM, StepStatus),
    Column("reason", "VARCHAR"),
    Column("started_at", "TIMESTAMPTZ", Kind.TIME),
    Column("ended_at", "TIMESTAMPTZ", Kind.TIME),
    Column("duration_ms", "DOUBLE"),
    Column("code_version", "VARCHAR"),
    Column("data_version", "VARCHAR"),
    Column("size_bytes", "BIGINT"),
    Column("rows", "BIGINT"),
    Column("uri", "VARCHAR"),
    Column("io_manager", "VARCHAR"),
    Column("pid", "INTEGER"),
    Column("host", "VARCHAR"),
    Column("error_code", "VARCHAR"),
    Column("error_message", "VARCHAR"),
    Column("traceback", "VARCHAR"),
    Column("metadata", "VARCHAR", Kind.JSON),
    Column("wiped", "BOOLEAN"),
])

_FINAL = sorted(s.value for s in FINAL_STEP_STATUSES)

_BY_ID = f"SELECT {STEPS.select_list} FROM steps WHERE step_id = ?"
_FOR_RUN = (f"SELECT {STEPS.select_list} FROM steps WHERE run_id = ? "
            'ORDER BY started_at NULLS LAST, attempt, asset, "partition" NULLS FIRST, step_id')
_DELETE = "DELETE FROM steps WHERE step_id IN (SELECT UNNEST(?::VARCHAR[]))"

# The latest row per (asset, partition) among those matching the filter: the one recorded last
# (`seq`, from the store's own sequence, schema v6), never by wall-clock times, which another
# host's skewed clock can put in the past. Two phases: pick the winners' rowids from a few narrow columns, then fetch full
# rows for those only. Selecting all columns together with the filter made DuckDB read every
# column of every candidate row (~110 ms for 10 assets on 1,000,000 steps, vs ~30 ms this way).
_LATEST = f"""
    SELECT {STEPS.select_list} FROM steps
    WHERE rowid IN (
        SELECT arg_max(rowid, seq)
        FROM steps
        WHERE {{where}}
        GROUP BY asset, "partition"
    )
"""
_MATERIALIZED = "status = ? AND NOT wiped"
_ATTEMPTED = "status IN (SELECT UNNEST(?::VARCHAR[]))"
_OF_ASSETS = " AND asset IN (SELECT UNNEST(?::VARCHAR[]))"
_LATEST_MATERIALIZED_ALL = _LATEST.format(where=_MATERIALIZED)
_LATEST_MATERIALIZED_OF = _LATEST.format(where=_MATERIALIZED + _OF_ASSETS)
_LATEST_ATTEMPT_ALL = _LATEST.format(where=_ATTEMPTED)
_LATEST_ATTEMPT_OF = _LATEST.format(where=_ATTEMPTED + _OF_ASSETS)

StepKey = tuple[str, str | None]  # (asset, partition); None = unpartitioned


def insert(conn: DuckDBPyConnection, steps: Sequence[StepRecord]) -> None:
    """Insert a batch of new steps in one statement."""
    if steps:
        conn.execute(STEPS.insert_sql, STEPS.insert_params(steps))


def upsert(conn: DuckDBPyConnection, steps: Sequence[StepRecord]) -> None:
    """Insert steps, replacing any row with the same step id (running -> succeeded)."""
    if steps:
        conn.execute(_DELETE, [[s.step_id for s in steps]])
        conn.execute(STEPS.insert_sql, STEPS.insert_params(steps))


def update(conn: DuckDBPyConnection, step_id: str, fields: Mapping[str, Any]) -> None:
    """Set the given columns of one step.

    Raises:
        ValueError: a field is not a column of `steps`, or is `step_id`.
        NotFoundError: no step has this id.
    """
    clause, params = STEPS.set_clause(fields, protected=("step_id",))
    # `clause` holds only column names validated against STEPS; values are parameters.
    row = conn.execute(f"UPDATE steps SET {clause} WHERE step_id = ?",
                       [*params, step_id]).fetchone()
    if not row or row[0] == 0:
        raise NotFoundError(f"step {step_id!r} not found",
                            hint="Run `flowstone runs show RUN_ID` to see the steps of a run.")


def get(conn: DuckDBPyConnection, step_id: str) -> StepRecord:
    """The step with this id.

    Raises:
        NotFoundError: no step has this id.
    """
    row = conn.execute(_BY_ID, [step_id]).fetchone()
    if row is None:
        raise NotFoundError(f"step {step_id!r} not found",
                            hint="Run `flowstone runs show RUN_ID` to see the steps of a run.")
    return STEPS.decode(row)


def for_run(conn: DuckDBPyConnection, run_id: str) -> list[StepRecord]:
    """Every step of a run, by start time then attempt."""
    return STEPS.decode_all(conn.execute(_FOR_RUN, [run_id]).fetchall())


def latest_materializations(conn: DuckDBPyConnection,
                            assets: Sequence[str] | None) -> dict[StepKey, StepRecord]:
    """The latest succeeded, not wiped step per (asset, partition), optionally of some assets."""
    if assets is None:
        return _by_key(conn, _LATEST_MATERIALIZED_ALL, [StepStatus.SUCCEEDED.value])
    if not assets:
        return {}
    return _by_key(conn, _LATEST_MATERIALIZED_OF, [StepStatus.SUCCEEDED.value, list(assets)])


def latest_attempts(conn: DuckDBPyConnection,
                    assets: Sequence[str] | None) -> dict[StepKey, StepRecord]:
    """The latest step that ended (any final status) per (asset, partition)."""
    if assets is None:
        return _by_key(conn, _LATEST_ATTEMPT_ALL, [_FINAL])
    if not assets:
        return {}
    return _by_key(conn, _LATEST_ATTEMPT_OF, [_FINAL, list(assets)])


def _by_key(conn: DuckDBPyConnection, sql: str, params: list[Any]) -> dict[StepKey, StepRecord]:
    records = STEPS.decode_all(conn.execute(sql, params).fetchall())
    return {(r.asset, r.partition): r for r in records}

"""Narrow read queries behind `lineage`, `status`, `report`, `wipe` and `flowstone sql`.

`steps.latest_materializations()` builds a full `StepRecord` for every (asset, partition) of the
assets asked for; on a store of 1,000,000 steps that is ~5 s for all of them. The questions here
are about a few keys at a time, so every query filters in SQL by asset list *and* partition list
and selects only the columns the caller needs. Lineage walks fetch rows in batches (one query per
round, not one per step) and walk them in memory.

Key filters take an asset list and a partition list; the cross product they match is a superset
of the wanted (asset, partition) pairs, which callers narrow in Python (cheap: the rows are few).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import MetadataStoreError, UsageError
from flowstone_cli.metadata.connection import duckdb_module
from flowstone_cli.metadata.lineage import LINEAGE
from flowstone_cli.metadata.records import LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.runs import RUNS
from flowstone_cli.metadata.statuses import FINAL_STEP_STATUSES, StepStatus
from flowstone_cli.metadata.steps import STEPS

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

Key = tuple[str, str | None]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FINAL = sorted(s.value for s in FINAL_STEP_STATUSES)
_STATUS = {s.value: s for s in StepStatus}
# Same order as `steps._LATEST` (the store's sequence), so "latest" means the same row
# everywhere.
_ORDER = "seq"
_NARROW = ('step_id, run_id, asset, "partition", attempt, status, epoch_us(started_at), '
           "epoch_us(ended_at), code_version, data_version, wiped, io_manager")
# Partitioned and unpartitioned keys are matched by separate SELECTs joined with UNION ALL: an
# `OR "partition" IS NULL` in one filter stops DuckDB from pruning row groups by partition (rows
# of one partition are written together, so its zone maps skip most of the table): ~70 ms
# against ~10 ms for 1,000 keys on 1,000,000 steps.
_OF_PARTITIONS = ('SELECT rowid FROM steps WHERE {status} AND "partition" IN '
                  "(SELECT UNNEST(?::VARCHAR[])) AND asset IN (SELECT UNNEST(?::VARCHAR[]))")
_OF_UNPARTITIONED = ('SELECT rowid FROM steps WHERE {status} AND "partition" IS NULL '
                     "AND asset IN (SELECT UNNEST(?::VARCHAR[]))")
_FINISHED = "status IN (SELECT UNNEST(?::VARCHAR[]))"
_SUCCEEDED = "status = 'succeeded'"
_PICK_LATEST = f"""
    SELECT arg_max(rowid, {_ORDER}) FILTER (WHERE status = 'succeeded' AND NOT wiped),
           arg_max(rowid, {_ORDER})
    FROM steps WHERE rowid IN ({{matching}})
    GROUP BY asset, "partition"
"""
_BY_ROWID = f"SELECT rowid, {_NARROW} FROM steps WHERE rowid IN (SELECT UNNEST(?::BIGINT[]))"
_MATERIALIZATIONS = f"SELECT {_NARROW} FROM steps WHERE rowid IN ({{matching}})"
# Selecting the wanted rowids first and then the rows (instead of filtering and projecting in one
# pass) keeps DuckDB from reading every column of every row: ~25 ms against ~55 ms for the
# lineage of 2,000 steps among 3,000,000 rows.
_STEPS_BY_ID = (f"SELECT {_NARROW} FROM steps WHERE rowid IN "
                "(SELECT rowid FROM steps WHERE step_id IN (SELECT UNNEST(?::VARCHAR[])))")
_LINEAGE_OF = (f"SELECT {LINEAGE.select_list} FROM lineage WHERE rowid IN "
               "(SELECT rowid FROM lineage WHERE step_id IN (SELECT UNNEST(?::VARCHAR[])))")
_CONSUMERS = (f"SELECT {LINEAGE.select_list} FROM lineage WHERE rowid IN (SELECT rowid FROM "
              "lineage WHERE upstream_step_id IN (SELECT UNNEST(?::VARCHAR[])))")
_RECORDED_PARTITIONS = ('SELECT DISTINCT asset, "partition" FROM steps '
                        'WHERE "partition" IS NOT NULL AND asset IN (SELECT UNNEST(?::VARCHAR[])) '
                        "AND status IN (SELECT UNNEST(?::VARCHAR[]))")
_HISTORY = (f"SELECT {STEPS.select_list} FROM steps WHERE asset IN (SELECT UNNEST(?::VARCHAR[])) "
            "AND status IN (SELECT UNNEST(?::VARCHAR[])) AND epoch_us(ended_at) >= ? "
            'ORDER BY ended_at, asset, "partition" NULLS FIRST, attempt, step_id')
_RUNS_BY_ID = (f"SELECT {RUNS.select_list} FROM runs WHERE run_id IN (SELECT UNNEST(?::VARCHAR[])) "
               "ORDER BY started_at NULLS LAST, run_id")
# Per asset, how its partitions stand by their latest finished attempt.
_ASSET_SUMMARY = f"""
    WITH latest AS (
        SELECT asset, arg_max(status, {_ORDER}) AS status, arg_max(wiped, {_ORDER}) AS wiped,
               max(ended_at) FILTER (WHERE status = 'succeeded' AND NOT wiped) AS last_ok
        FROM steps
        WHERE asset IN (SELECT UNNEST(?::VARCHAR[])) AND status IN (SELECT UNNEST(?::VARCHAR[]))
        GROUP BY asset, "partition")
    SELECT asset, count(*) FILTER (WHERE status = 'succeeded' AND NOT wiped),
           count(*) FILTER (WHERE status <> 'succeeded'),
           count(*) FILTER (WHERE status = 'succeeded' AND wiped), epoch_us(max(last_ok))
    FROM latest GROUP BY asset
"""
_ALLOWED_STATEMENTS = ("SELECT", "EXPLAIN")


def _time(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _narrow(row: Sequence[Any]) -> StepRecord:
    """A `StepRecord` holding only the narrow columns (other fields keep their defaults)."""
    status = _STATUS.get(row[5])
    if status is None:
        raise MetadataStoreError(f"unknown status {row[5]!r} in table steps",
                                 hint="The store was written by another FlowStone version; "
                                      "upgrade flowstone-cli.")
    return StepRecord(step_id=row[0], run_id=row[1], asset=row[2], partition=row[3],
                      attempt=row[4], status=status, started_at=_time(row[6]),
                      ended_at=_time(row[7]), code_version=row[8], data_version=row[9],
                      wiped=bool(row[10]), io_manager=row[11])


def _matching(keys: Collection[Key], status: str,
              status_params: list[Any]) -> tuple[str, list[Any]]:
    """A query of the rowids of steps with `status` whose (asset, partition) may be in `keys`."""
    partitioned = {(a, p) for a, p in keys if p is not None}
    unpartitioned = sorted({a for a, p in keys if p is None})
    selects: list[str] = []
    params: list[Any] = []
    if partitioned:
        selects.append(_OF_PARTITIONS.format(status=status))
        params += [*status_params, sorted({p for _, p in partitioned}),
                   sorted({a for a, _ in partitioned})]
    if unpartitioned:
        selects.append(_OF_UNPARTITIONED.format(status=status))
        params += [*status_params, unpartitioned]
    return " UNION ALL ".join(selects), params


@dataclass(frozen=True)
class LatestSteps:
    """The latest materialization and the latest finished attempt of some asset partitions.

    Records are narrow: ids, run, attempt, status, times, code and data versions, `wiped`
    and the I/O manager; other fields keep their defaults.
    """

    materializations: dict[Key, StepRecord]
    attempts: dict[Key, StepRecord]


def latest_for_keys(conn: DuckDBPyConnection, keys: Collection[Key]) -> LatestSteps:
    """Latest succeeded-not-wiped step and latest finished attempt of exactly these keys."""
    if not keys:
        return LatestSteps({}, {})
    matching, params = _matching(keys, _FINISHED, [_FINAL])
    picked = conn.execute(_PICK_LATEST.format(matching=matching), params).fetchall()
    mats = {m for m, _ in picked if m is not None}
    atts = {a for _, a in picked if a is not None}
    if not picked:
        return LatestSteps({}, {})
    rows = conn.execute(_BY_ROWID, [sorted(mats | atts)]).fetchall()
    wanted = set(keys)
    latest: dict[Key, StepRecord] = {}
    attempts: dict[Key, StepRecord] = {}
    for row in rows:
        record = _narrow(row[1:])
        key = (record.asset, record.partition)
        if key not in wanted:
            continue
        if row[0] in mats:
            latest[key] = record
        if row[0] in atts:
            attempts[key] = record
    return LatestSteps(latest, attempts)


def materializations_of_keys(conn: DuckDBPyConnection,
                             keys: Collection[Key]) -> list[StepRecord]:
    """Every succeeded step (wiped or not) of exactly these keys, narrow."""
    if not keys:
        return []
    matching, params = _matching(keys, _SUCCEEDED, [])
    wanted = set(keys)
    rows = conn.execute(_MATERIALIZATIONS.format(matching=matching), params).fetchall()
    return [r for r in map(_narrow, rows) if (r.asset, r.partition) in wanted]


def steps_by_id(conn: DuckDBPyConnection, step_ids: Collection[str]) -> dict[str, StepRecord]:
    """Narrow records of the given steps, by id (unknown ids are left out)."""
    if not step_ids:
        return {}
    rows = conn.execute(_STEPS_BY_ID, [sorted(step_ids)]).fetchall()
    return {r.step_id: r for r in map(_narrow, rows)}


def lineage_of(conn: DuckDBPyConnection, step_ids: Collection[str]) -> list[LineageRecord]:
    """The lineage rows of the given consuming steps (unordered)."""
    if not step_ids:
        return []
    return LINEAGE.decode_all(conn.execute(_LINEAGE_OF, [sorted(step_ids)]).fetchall())


def consumers_of_ids(conn: DuckDBPyConnection,
                     step_ids: Collection[str]) -> list[LineageRecord]:
    """The lineage rows that name any of the given steps as their upstream (unordered)."""
    if not step_ids:
        return []
    return LINEAGE.decode_all(conn.execute(_CONSUMERS, [sorted(step_ids)]).fetchall())


def recorded_partitions(conn: DuckDBPyConnection, assets: Collection[str]) -> dict[str, list[str]]:
    """Asset -> partitions that have at least one finished attempt, sorted."""
    if not assets:
        return {}
    rows = conn.execute(_RECORDED_PARTITIONS, [sorted(set(assets)), _FINAL]).fetchall()
    found: dict[str, list[str]] = {}
    for asset, partition in rows:
        found.setdefault(asset, []).append(partition)
    return {asset: sorted(keys) for asset, keys in found.items()}


def history(conn: DuckDBPyConnection, assets: Collection[str],
            since: datetime | None) -> list[StepRecord]:
    """Every finished attempt of the assets that ended at or after `since`, oldest first."""
    if not assets:
        return []
    since_us = 0 if since is None else int((since - _EPOCH) / timedelta(microseconds=1))
    rows = conn.execute(_HISTORY, [sorted(set(assets)), _FINAL, since_us]).fetchall()
    return STEPS.decode_all(rows)


def runs_by_id(conn: DuckDBPyConnection, run_ids: Collection[str]) -> list[RunRecord]:
    """The runs with these ids, oldest first."""
    if not run_ids:
        return []
    return RUNS.decode_all(conn.execute(_RUNS_BY_ID, [sorted(run_ids)]).fetchall())


@dataclass(frozen=True)
class AssetSummary:
    """How an asset's partitions stand, each judged by its latest finished attempt.

    Attributes:
        materialized: partitions whose latest attempt succeeded and was not wiped.
        failed: partitions whose latest attempt failed (or timed out, was canceled...).
        wiped: partitions whose latest materialization was wiped.
        last_materialized_at: end of the newest materialization that was not wiped.
    """

    materialized: int = 0
    failed: int = 0
    wiped: int = 0
    last_materialized_at: datetime | None = None


def asset_summary(conn: DuckDBPyConnection,
                  assets: Collection[str]) -> dict[str, AssetSummary]:
    """Asset -> summary, for the assets that have any finished attempt."""
    if not assets:
        return {}
    rows = conn.execute(_ASSET_SUMMARY, [sorted(set(assets)), _FINAL]).fetchall()
    return {asset: AssetSummary(ok, failed, wiped, _time(last))
            for asset, ok, failed, wiped, last in rows}


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of an ad-hoc query; values are plain Python (times as aware UTC)."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool = False


def run_read_only(conn: DuckDBPyConnection, sql: str, *, timeout: float | None = None,
                  limit: int | None = None) -> QueryResult:
    """Run one user-supplied read statement with external access disabled.

    The connection is already read-only (so no write can succeed); this also turns off every
    file and network access DuckDB offers (`read_csv('/etc/passwd')`, `ATTACH`, extensions) and
    locks the configuration so the statement cannot turn it back on.

    Args:
        timeout: seconds after which the query is interrupted (`conn.interrupt()` from a timer
            thread), so a runaway query never holds the store's lock longer than that.
        limit: at most this many rows are fetched; `truncated` says whether more existed.

    Raises:
        UsageError: not exactly one SELECT/EXPLAIN statement, a syntax or binding error, an
            attempt to reach a file or the network, or the timeout was reached.
    """
    duckdb = duckdb_module()
    locked = conn.execute("SELECT current_setting('lock_configuration')").fetchone()
    if not (locked and locked[0]):  # a second query in the same session is already locked
        # Arrow export then gives TIMESTAMPTZ values in UTC without needing pytz.
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET enable_external_access = false")
        conn.execute("SET lock_configuration = true")
    hint = "See docs/metadata.md for the tables and their columns."
    try:
        statements = conn.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"cannot parse the SQL: {_first_line(exc)}", hint=hint) from None
    if len(statements) != 1:
        raise UsageError(f"`flowstone sql` runs exactly one statement, got {len(statements)}",
                         hint="Give a single SELECT statement.")
    kind = statements[0].type.name
    if kind not in _ALLOWED_STATEMENTS:
        raise UsageError(f"`flowstone sql` only runs read queries (SELECT), not {kind}",
                         hint="The metadata store is read-only here; FlowStone commands change "
                              "it (e.g. `flowstone wipe`).")
    timer = threading.Timer(timeout, conn.interrupt) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        relation = conn.sql(statements[0].query)
        types = tuple(str(t) for t in relation.types)
        table = (relation.limit(limit + 1) if limit is not None else relation).to_arrow_table()
    except duckdb.InterruptException:
        raise UsageError(f"the query did not finish within {timeout:g}s and was stopped",
                         hint="Narrow the query, or give more time with --timeout SECONDS."
                         ) from None
    except duckdb.PermissionException:
        raise UsageError("`flowstone sql` cannot read files or reach the network: external "
                         "access is disabled",
                         hint="Query only the metadata tables (see docs/metadata.md).") from None
    except duckdb.Error as exc:
        raise UsageError(f"the query failed: {_first_line(exc)}", hint=hint) from None
    finally:
        if timer is not None:
            timer.cancel()
    truncated = limit is not None and table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    columns = tuple(table.column_names)
    # Column by column, so duplicate names (`SELECT a.x, b.x`) survive.
    values = [col.to_pylist() for col in table.columns]
    return QueryResult(columns, types, list(zip(*values)) if values else [], truncated)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

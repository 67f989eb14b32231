"""SQL of the `lineage` table: which upstream materializations each step consumed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowstone_cli.metadata.codec import Column, Table
from flowstone_cli.metadata.records import LineageRecord

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

LINEAGE: Table[LineageRecord] = Table("lineage", LineageRecord, [
    Column("step_id", "VARCHAR"),
    Column("upstream_step_id", "VARCHAR"),
    Column("upstream_asset", "VARCHAR"),
    Column("upstream_partition", "VARCHAR"),
    Column("upstream_data_version", "VARCHAR"),
])

# Ids arrive as one list parameter (a semi-join), not thousands of `?` placeholders.
_OF_STEPS = (f"SELECT {LINEAGE.select_list} FROM lineage "
             "WHERE step_id IN (SELECT UNNEST(?::VARCHAR[])) "
             "ORDER BY step_id, upstream_asset, upstream_partition NULLS FIRST")
_CONSUMERS = (f"SELECT {LINEAGE.select_list} FROM lineage "
              "WHERE upstream_step_id IN (SELECT UNNEST(?::VARCHAR[])) "
              "ORDER BY upstream_step_id, step_id")


def insert(conn: DuckDBPyConnection, rows: Sequence[LineageRecord]) -> None:
    """Insert a batch of lineage rows in one statement."""
    if rows:
        conn.execute(LINEAGE.insert_sql, LINEAGE.insert_params(rows))


def for_steps(conn: DuckDBPyConnection,
              step_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
    """The inputs of each given step: every requested id maps to a (possibly empty) list."""
    result: dict[str, list[LineageRecord]] = {sid: [] for sid in step_ids}
    if step_ids:
        for record in LINEAGE.decode_all(conn.execute(_OF_STEPS, [list(step_ids)]).fetchall()):
            result[record.step_id].append(record)
    return result


def consumers_of(conn: DuckDBPyConnection,
                 step_ids: Sequence[str]) -> dict[str, list[LineageRecord]]:
    """Reverse lineage: for each given materialization id, the lineage rows of steps that read it.

    Every requested id maps to a (possibly empty) list.
    """
    result: dict[str, list[LineageRecord]] = {sid: [] for sid in step_ids}
    if step_ids:
        for record in LINEAGE.decode_all(conn.execute(_CONSUMERS, [list(step_ids)]).fetchall()):
            result[record.upstream_step_id].append(record)
    return result

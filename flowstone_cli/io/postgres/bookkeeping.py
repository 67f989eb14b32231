"""The `_flowstone_partitions` table: which partition of which table is stored, its row count
and whether a DataFrame was stored (so that an empty partition still exists, and a DataFrame
loads back as one)."""

from __future__ import annotations

from typing import Any

from flowstone_cli.io.postgres.naming import PARTITIONS_TABLE, TableName, bookkeeping_key
from flowstone_cli.io.postgres.tables import columns_of, compose


def _table(schema: str) -> Any:
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    return sql.Identifier(schema, PARTITIONS_TABLE)


def ensure(cur: Any, schema: str) -> None:
    """The schema and the bookkeeping table in it, created when missing."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    cur.execute(compose(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
        sql.Identifier(schema))))
    cur.execute(compose(sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (table_schema text NOT NULL, table_name text NOT NULL, "
        "partition text NOT NULL, asset text NOT NULL, rows bigint NOT NULL, value_type text "
        "NOT NULL, stored_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (table_schema, table_name, partition))").format(_table(schema))))


def exists(cur: Any, schema: str) -> bool:
    """Whether the bookkeeping table exists (nothing was stored through `schema` otherwise)."""
    return columns_of(cur, TableName(schema, PARTITIONS_TABLE).quoted()) is not None


def record(cur: Any, schema: str, table: TableName, parts: dict[str, str] | None, *,
           asset: str, rows: int, value_type: str) -> None:
    """Record (or re-record) a stored partition, inside the caller's data transaction."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    query = sql.SQL(
        "INSERT INTO {} (table_schema, table_name, partition, asset, rows, value_type) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (table_schema, table_name, partition) "
        "DO UPDATE SET asset = EXCLUDED.asset, rows = EXCLUDED.rows, value_type = "
        "EXCLUDED.value_type, stored_at = now()").format(_table(schema))
    cur.execute(compose(query), parameters=(table.schema, table.table, bookkeeping_key(parts),
                                            asset, rows, value_type))


def stored_type(cur: Any, schema: str, table: TableName,
                parts: dict[str, str] | None) -> str | None:
    """The value type recorded for this table and partition, None when nothing is."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    if not exists(cur, schema):
        return None
    cur.execute(compose(sql.SQL("SELECT value_type FROM {} WHERE table_schema = $1 AND "
                                "table_name = $2 AND partition = $3").format(_table(schema))),
                parameters=(table.schema, table.table, bookkeeping_key(parts)))
    row = cur.fetchone()
    return None if row is None else str(row[0])


def forget(cur: Any, schema: str, table: TableName, parts: dict[str, str] | None) -> None:
    """Drop the record of one partition (every record of the table when `parts` is None)."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    if not exists(cur, schema):
        return
    query = sql.SQL("DELETE FROM {} WHERE table_schema = $1 AND table_name = $2").format(
        _table(schema))
    params: tuple[str, ...] = (table.schema, table.table)
    if parts is not None:
        query += sql.SQL(" AND partition = $3")
        params += (bookkeeping_key(parts),)
    cur.execute(compose(query), parameters=params)

"""Partitioned assets as PostgreSQL declarative partitions: one child table per partition key.

The asset's table is `PARTITION BY LIST (_partition)`; users query it as one table. Storing a
partition COPYs the rows into a new table of the same columns, whose `_partition` column
defaults to the key and is checked to equal it, then, in the same transaction, drops the
partition's previous child table (if any) and attaches the new one. Compared with deleting the
old rows from one big table and appending the new ones:

- replacing a partition costs a `DROP TABLE`, not a `DELETE` of every old row (and no dead rows
  are left for vacuum);
- the rows are COPYed without the partition column (its default fills it), with no index to
  maintain; the CHECK constraint lets `ATTACH` skip scanning the new rows;
- loading a partition reads only its child table (partition pruning).

Readers never see a partial partition: the swap commits with the rows. The parent is locked
(`ACCESS EXCLUSIVE`) only for the swap, after the COPY, and always before any child, so
writers of different partitions and readers never deadlock; two writers of one partition both
succeed and the last to commit wins, as with any store. A writer killed mid-COPY leaves only
its uncommitted new table, which the server discards.

Multi-dimension assets (one `_partition_<dimension>` column each) and tables created before
this layout (one plain table with a partition column) are stored as before: `DELETE` + `COPY`.
"""

from __future__ import annotations

import secrets
from typing import Any

from flowstone_cli.io.postgres.naming import TableName
from flowstone_cli.io.postgres.tables import columns_of, compose

CHILD_PREFIX = "_flowstone_p_"


def is_partitioned(cur: Any, table: TableName) -> bool:
    """Whether `table` is a declaratively partitioned parent."""
    cur.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass($1)",
                parameters=(table.quoted(),))
    row = cur.fetchone()
    return bool(row and row[0])


def replace_partition(cur: Any, table: TableName, column: str, key: str, data: Any) -> None:
    """Make `data` (without the partition column) the rows of partition `key` of `table`,
    inside the caller's transaction."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    # The parent's columns come from the catalog: no lock on the parent before the swap.
    columns = columns_of(cur, table.quoted()) or []
    child = TableName(table.schema, f"{CHILD_PREFIX}{secrets.token_hex(8)}")
    definitions = []
    for c in columns:
        definition = sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type))
        if c.name == column:
            definition += sql.SQL(" NOT NULL DEFAULT {}").format(sql.Literal(key))
        elif c.not_null:
            definition += sql.SQL(" NOT NULL")
        definitions.append(definition)
    definitions.append(sql.SQL("CHECK ({} = {})").format(sql.Identifier(column),
                                                        sql.Literal(key)))
    cur.execute(compose(sql.SQL("CREATE TABLE {} ({})").format(
        child.sql(), sql.SQL(", ").join(definitions))))
    if data.num_rows:
        cur.adbc_ingest(child.table, data, mode="append", db_schema_name=child.schema)
    _lock_parent(cur, table)
    _drop_children(cur, table, key)
    cur.execute(compose(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
        table.sql(), child.sql(), sql.Literal(key))))


def drop_partition(cur: Any, table: TableName, key: str) -> None:
    """Remove partition `key`'s rows (its child table), inside the caller's transaction."""
    _lock_parent(cur, table)
    _drop_children(cur, table, key)


def _lock_parent(cur: Any, table: TableName) -> None:
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    cur.execute(compose(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table.sql())))


def _drop_children(cur: Any, table: TableName, key: str) -> None:
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    cur.execute("SELECT n.nspname, c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE i.inhparent = to_regclass($1) "
                "AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', $2::text)",
                parameters=(table.quoted(), key))
    for schema, name in cur.fetchall():
        cur.execute(compose(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name))))

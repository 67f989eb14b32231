"""Creating a table from an Arrow schema and checking later values against it.

PostgreSQL column types come from the ADBC driver itself: the value's (empty) schema is ingested
into a temporary table and the catalog says what each Arrow type became. So the table FlowStone
creates, and the check that a later value fits it, use exactly the types a COPY will send.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import IOManagerError
from flowstone_cli.io.postgres.naming import TableName, identifier_problem

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_EVOLUTIONS = ("none", "add_columns")
# One lock for every table set-up (CREATE SCHEMA/TABLE IF NOT EXISTS race otherwise).
_SETUP_LOCK_KEY = "flowstone:postgres:setup"

_COLUMNS_SQL = ("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
                "FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum")


@dataclass(frozen=True)
class Column:
    """One column: name, PostgreSQL type as `format_type` spells it, NOT NULL."""

    name: str
    type: str
    not_null: bool = False


def compose(query: Any) -> str:
    """A `psycopg.sql` composition as text (identifiers quoted; values are bound, not here)."""
    return str(query.as_string(None))


def columns_of(cur: Any, regclass_text: str) -> list[Column] | None:
    """The columns of a table (`regclass_text` is its quoted name), None when it is missing."""
    cur.execute("SELECT to_regclass($1) IS NOT NULL", parameters=(regclass_text,))
    if not cur.fetchone()[0]:
        return None
    cur.execute(_COLUMNS_SQL, parameters=(regclass_text,))
    return [Column(str(name), str(kind), bool(not_null)) for name, kind, not_null
            in cur.fetchall()]


def probe_types(cur: Any, schema: pa.Schema) -> list[Column]:
    """The PostgreSQL column of each Arrow field, as the ADBC driver maps it."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    name = f"_flowstone_probe_{secrets.token_hex(6)}"
    cur.adbc_ingest(name, schema.empty_table(), mode="create", temporary=True)
    try:
        found = columns_of(cur, compose(sql.Identifier("pg_temp", name)))
    finally:
        cur.execute(compose(sql.SQL("DROP TABLE IF EXISTS {}").format(
            sql.Identifier("pg_temp", name))))
    return list(found or [])


def lock_setup(cur: Any) -> None:
    """Serialise table set-up across processes until the transaction ends."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext($1))", parameters=(_SETUP_LOCK_KEY,))


def ensure_table(cur: Any, table: TableName, value_columns: Sequence[Column],
                 partition_columns: Sequence[str], *, evolution: str) -> None:
    """Create `table` for these columns, or check (and with `add_columns`, extend) it.

    Raises:
        IOManagerError: the existing table does not fit the value; the message names the column.
    """
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    cur.execute(compose(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
        sql.Identifier(table.schema))))
    existing = columns_of(cur, table.quoted())
    if existing is None:
        definitions = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type))
                       for c in value_columns]
        definitions += [sql.SQL("{} text NOT NULL").format(sql.Identifier(name))
                        for name in partition_columns]
        if len(partition_columns) == 1:
            # One child table per partition key (see io/postgres/partitioned.py).
            cur.execute(compose(sql.SQL("CREATE TABLE {} ({}) PARTITION BY LIST ({})").format(
                table.sql(), sql.SQL(", ").join(definitions),
                sql.Identifier(partition_columns[0]))))
            return
        cur.execute(compose(sql.SQL("CREATE TABLE {} ({})").format(
            table.sql(), sql.SQL(", ").join(definitions))))
        if partition_columns:
            # BRIN, not B-tree: a partition is written by one COPY, so its rows sit in
            # adjacent blocks; a BRIN index finds them for DELETE and loads at almost no cost
            # per inserted row (a B-tree doubled the time of a 1M-row store).
            cur.execute(compose(sql.SQL("CREATE INDEX ON {} USING brin ({})").format(
                table.sql(), sql.SQL(", ").join(map(sql.Identifier, partition_columns)))))
        return
    for column in _missing_columns(table, existing, value_columns, partition_columns,
                                   evolution=evolution):
        cur.execute(compose(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
            table.sql(), sql.Identifier(column.name), sql.SQL(column.type))))


def _missing_columns(table: TableName, existing: Sequence[Column],
                     value_columns: Sequence[Column], partition_columns: Sequence[str], *,
                     evolution: str) -> list[Column]:
    """Value columns the table lacks (allowed only with `add_columns`); raises on conflicts."""
    have = {c.name: c for c in existing}
    for name in partition_columns:
        if name not in have:
            raise _mismatch(table, f"has no partition column {name!r} (was it stored "
                            "unpartitioned, or with other partition dimensions?)",
                            "Drop the table or store this asset in another table.")
    added: list[Column] = []
    for column in value_columns:
        current = have.get(column.name)
        if current is None:
            added.append(column)
        elif current.type != column.type:
            raise _mismatch(table, f"column {column.name!r} is {current.type} in the table but "
                            f"{column.type} in the value",
                            "Cast the column in the asset, or migrate the table.")
    if added and evolution != "add_columns":
        raise _mismatch(table, f"has no column {added[0].name!r} (the value has "
                        f"{len(added)} new column(s): {', '.join(c.name for c in added)})",
                        'Set schema_evolution = "add_columns" on the I/O manager to add them, '
                        "or migrate the table.")
    wanted = {c.name for c in value_columns} | set(partition_columns)
    for column in existing:
        if column.name not in wanted and (column.not_null or evolution != "add_columns"):
            raise _mismatch(table, f"column {column.name!r} is in the table but not in the "
                            "value", 'Return that column too, or (for a nullable column) set '
                            'schema_evolution = "add_columns" to fill it with NULL.')
    return added


def _mismatch(table: TableName, detail: str, hint: str) -> IOManagerError:
    return IOManagerError(f"the value does not fit table {table}: {detail}", hint=hint,
                          retryable=False)


def column_problem(names: Sequence[str], partition_columns: Sequence[str]) -> str | None:
    """Why the value's column names cannot be stored, or None."""
    for name in names:
        problem = identifier_problem(name, "column name")
        if problem:
            return problem
        if name in partition_columns or (partition_columns and name.startswith("_partition")):
            return f"column name {name!r} is used for partition keys"
    if len(set(names)) != len(names):
        return "the value has duplicate column names"
    return None

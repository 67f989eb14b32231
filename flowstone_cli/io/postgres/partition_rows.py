"""Selecting one partition's rows, and the Arrow form of rows going in and coming out."""

from __future__ import annotations

from typing import Any


def where_bound(parts: dict[str, str] | None) -> Any:
    """`WHERE col = $1 AND ...` for the partition columns; bind `parts.values()` with it."""
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    if not parts:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(
        sql.SQL("{} = ${}").format(sql.Identifier(name), sql.SQL(str(i)))
        for i, name in enumerate(parts, start=1))


def where_settings(cur: Any, parts: dict[str, str] | None) -> Any:
    """A WHERE clause for a load, the keys bound as transaction-local settings.

    The ADBC driver reads a query without parameters through `COPY (...) TO STDOUT`, about
    30 % faster than a parameterised query's result; `set_config` keeps the keys bound values
    (`current_setting` is stable, so the partition index still applies).
    """
    # lazy: optional dependency of the [postgres] extra
    from psycopg import sql

    if not parts:
        return sql.SQL("")
    clauses = []
    for i, (name, value) in enumerate(parts.items(), start=1):
        setting = f"flowstone.partition_{i}"
        cur.execute("SELECT set_config($1, $2, true)", parameters=(setting, value))
        cur.fetchall()
        clauses.append(sql.SQL("{} = current_setting({})").format(sql.Identifier(name),
                                                                  sql.Literal(setting)))
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses)


def with_partition_columns(table: Any, parts: dict[str, str] | None) -> Any:
    """`table` plus one constant text column per partition dimension."""
    # lazy: keeps CLI start-up fast
    import pyarrow as pa

    table = table.replace_schema_metadata(None)
    for name, value in (parts or {}).items():
        table = table.append_column(name, pa.repeat(pa.scalar(value, pa.string()),
                                                    table.num_rows))
    return table


def without_field_metadata(table: Any) -> Any:
    """The driver tags each field with its PostgreSQL type; values come back without that."""
    # lazy: keeps CLI start-up fast
    import pyarrow as pa

    schema = pa.schema([field.remove_metadata() for field in table.schema])
    return pa.Table.from_arrays(table.columns, schema=schema)

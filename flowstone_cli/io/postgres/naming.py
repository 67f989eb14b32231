"""Names in the database: which table holds an asset, and the partition columns.

Every identifier reaches SQL through `psycopg.sql.Identifier` (quoted, embedded quotes doubled);
names are also checked here so that a name PostgreSQL would silently truncate (over 63 bytes) or
cannot hold (NUL) is refused with a clear message instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowstone_cli.errors import ConfigError
from flowstone_cli.io.base import StoreContext

MAX_IDENTIFIER_BYTES = 63
PARTITION_COLUMN = "_partition"
PARTITION_COLUMN_PREFIX = "_partition_"
RESERVED_PREFIX = "_flowstone"
PARTITIONS_TABLE = "_flowstone_partitions"


def unescape_path_part(part: str) -> str:
    """A key from its storage form (the partitions package writes `:` as `%3A`)."""
    return part.replace("%3A", ":")


def identifier_problem(name: Any, what: str) -> str | None:
    """Why `name` cannot be a PostgreSQL identifier, or None."""
    if not isinstance(name, str) or not name:
        return f"{what} {name!r} is empty or not a string"
    if "\x00" in name:
        return f"{what} {name!r} contains a NUL character"
    if len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        return (f"{what} {name[:40]!r}... is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} "
                "bytes")
    return None


@dataclass(frozen=True)
class TableName:
    """A schema-qualified table name (both parts unquoted)."""

    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"

    def sql(self) -> Any:
        """The quoted, qualified name as a `psycopg.sql.Composable`."""
        # lazy: optional dependency of the [postgres] extra
        from psycopg import sql

        return sql.Identifier(self.schema, self.table)

    def quoted(self) -> str:
        """The quoted, qualified name as text (for `to_regclass`, bound as a value)."""
        return self.sql().as_string(None)


def parse_table_name(text: Any, default_schema: str, *, what: str) -> TableName:
    """`"table"` or `"schema.table"` as a `TableName`.

    Raises:
        ConfigError: a part is empty, too long, holds NUL, has more than one dot, or uses the
            reserved `_flowstone` prefix.
    """
    if not isinstance(text, str):
        raise ConfigError(f"postgres I/O manager: {what} {text!r} is not a string",
                          hint='Use "table" or "schema.table".')
    parts = text.split(".")
    if len(parts) > 2:
        raise ConfigError(f"postgres I/O manager: {what} {text!r} has more than one '.'",
                          hint='Use "table" or "schema.table"; names cannot contain dots.')
    schema, table = (default_schema, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    for part, kind in ((schema, "schema"), (table, "table")):
        problem = identifier_problem(part, f"{what}: {kind} name")
        if problem:
            raise ConfigError(f"postgres I/O manager: {problem}",
                              hint="Use a shorter name without control characters.")
    if table.startswith(RESERVED_PREFIX):
        raise ConfigError(f"postgres I/O manager: {what}: table name {table!r} is reserved "
                          f"(the prefix {RESERVED_PREFIX!r} is FlowStone's)",
                          hint="Choose another table name.")
    return TableName(schema, table)


def partition_values(ctx: StoreContext) -> dict[str, str] | None:
    """Partition column name -> value for `ctx`; None when the asset is unpartitioned.

    One column per partition dimension: `_partition` for a single dimension, and
    `_partition_<dimension>` for each dimension of a multi-partitioned asset, whose canonical
    key is `date=2025-01-15,tenant=acme` (single-dimension keys never contain `=`). Values are
    the canonical keys, not their storage-path forms.
    """
    if ctx.partition is None and ctx.partition_path is None:
        return None
    if ctx.partition is not None:
        if "=" not in ctx.partition:
            return {PARTITION_COLUMN: ctx.partition}
        pairs = [pair.partition("=") for pair in ctx.partition.split(",")]
    else:
        path = ctx.partition_path or ""
        if "=" not in path:
            return {PARTITION_COLUMN: unescape_path_part(path)}
        pairs = [segment.partition("=") for segment in path.split("/")]
    return {PARTITION_COLUMN_PREFIX + name: unescape_path_part(value)
            for name, _, value in pairs}


def bookkeeping_key(values: dict[str, str] | None) -> str:
    """The partition as one string for the `_flowstone_partitions` table ('' when none)."""
    if values is None:
        return ""
    return "/".join(f"{name}={value}" for name, value in values.items())

"""The `postgres` I/O manager: one PostgreSQL table per asset, loaded with COPY.

Data goes through the ADBC PostgreSQL driver (Arrow-native, COPY underneath); identifiers are
composed with `psycopg.sql` and every value is a bound parameter. A store is two short
transactions on one connection:

1. set-up, under an advisory lock: create the schema, the `_flowstone_partitions` table and the
   asset's table (from the value's Arrow schema) if missing, or check the value fits the table;
2. data: COPY the partition's rows into a new child table and swap it in for the old one
   (`io/postgres/partitioned.py`; `DELETE` + COPY in a table from an earlier FlowStone or of a
   multi-dimension asset), or `TRUNCATE` + COPY an unpartitioned table; record the partition;
   `COMMIT`. Readers see the old rows until the commit and the new ones after; a writer that
   dies mid-COPY leaves the previous rows untouched (the server rolls the transaction back
   when the connection drops).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import closing, contextmanager
from typing import Any, ClassVar
from urllib.parse import quote

from flowstone_cli.errors import ConfigError, IOManagerError
from flowstone_cli.io import failures
from flowstone_cli.io.base import IOManager, StoreContext, StoredValue
from flowstone_cli.io.duckdb_manager import arrow_ipc_sha256
from flowstone_cli.io.postgres import bookkeeping, connection, partitioned
from flowstone_cli.io.postgres import tables as pg_tables
from flowstone_cli.io.postgres.naming import (
    TableName,
    bookkeeping_key,
    identifier_problem,
    parse_table_name,
    partition_values,
)
from flowstone_cli.io.postgres.partition_rows import (
    where_bound,
    where_settings,
    with_partition_columns,
    without_field_metadata,
)
from flowstone_cli.io.values import UnsupportedValueError, to_arrow_table

DEFAULT_SCHEMA = "public"
_ACCEPTED = "pyarrow.Table, pyarrow.RecordBatch, a pandas DataFrame or a list of dicts"
_PANDAS = "pandas"
_ARROW = "arrow"


class PostgresIOManager(IOManager):
    """Stores tabular values as rows of PostgreSQL tables.

    Args:
        root: unused (values live in the database); given to every manager.
        storage_options: unused.
        dsn: libpq connection string or URL (use `${PG_DSN}` so the password stays out of the
            file); never printed.
        schema: the default schema for tables (and where `_flowstone_partitions` lives).
        tables: asset name -> `"table"` or `"schema.table"`; other assets use a table named
            like the asset in `schema`.
        schema_evolution: `"none"` (a value whose columns differ from the table's is an error)
            or `"add_columns"` (new columns are added; missing nullable ones are left NULL).
    """

    type_name: ClassVar[str] = "postgres"

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None, *,
                 dsn: str | None = None, schema: str = DEFAULT_SCHEMA,
                 tables: Mapping[str, str] | None = None,
                 schema_evolution: str = "none") -> None:
        super().__init__(root, storage_options)
        connection.require_drivers()
        if dsn is None:
            raise ConfigError("postgres I/O manager: the `dsn` option is required",
                              hint='Add dsn = "${PG_DSN}" and set PG_DSN in the environment.')
        self.dsn = connection.parse_dsn(dsn)
        self._secrets = tuple(sorted({*self._secrets, *self.dsn.secrets}, key=len,
                                     reverse=True))
        problem = identifier_problem(schema, "schema")
        if problem:
            raise ConfigError(f"postgres I/O manager: {problem}", hint="Fix `schema`.")
        self.schema = schema
        if schema_evolution not in pg_tables.SCHEMA_EVOLUTIONS:
            raise ConfigError(f"postgres I/O manager: schema_evolution {schema_evolution!r} is "
                              "not supported", hint='Use "none" or "add_columns".')
        self.schema_evolution = schema_evolution
        if tables is not None and not isinstance(tables, Mapping):
            raise ConfigError("postgres I/O manager: `tables` must map asset names to table "
                              "names", hint='[io_managers.NAME.tables] my_asset = "schema.table"')
        self.tables = {asset: parse_table_name(name, schema, what=f"tables.{asset}")
                       for asset, name in (tables or {}).items()}

    # -- names -----------------------------------------------------------------------------

    def table_for(self, asset: str) -> TableName:
        """The table that holds `asset` (configured, or named like the asset in `schema`)."""
        if asset in self.tables:
            return self.tables[asset]
        return parse_table_name(asset, self.schema, what=f"the table of asset {asset!r}")

    def uri_for(self, ctx: StoreContext) -> str:
        uri = f"postgresql://{self.dsn.display}#{self.table_for(ctx.asset)}"
        key = ctx.partition if ctx.partition is not None else ctx.partition_path
        return uri if key is None else f"{uri}?partition={quote(key, safe=':@-_.=/')}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type_name!r}, dsn={self.dsn.display!r})"

    def configuration_problems(self, assets: Collection[str]) -> list[str]:
        """What `flowstone check` reports: `tables` entries for assets that do not use this
        manager, two assets sharing one table, asset names that cannot be table names."""
        problems = [f"tables.{name}: no asset named {name!r} uses this I/O manager"
                    for name in self.tables if name not in assets]
        owners: dict[TableName, str] = {}
        for asset in sorted(assets):
            try:
                table = self.table_for(asset)
            except ConfigError as exc:
                problems.append(exc.message)
                continue
            if table in owners:
                problems.append(f"assets {owners[table]!r} and {asset!r} are both stored in "
                                f"table {table}")
            owners[table] = asset
        return problems

    def health_check(self) -> str | None:
        """None when the server accepts the DSN, else what went wrong (no password)."""
        return connection.health_problem(self.dsn)

    # -- operations ------------------------------------------------------------------------

    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        uri = self.uri_for(ctx)
        table_name = self.table_for(ctx.asset)
        try:
            table, from_pandas = to_arrow_table(value, allow_records=True)
        except UnsupportedValueError:
            raise failures.unsupported_value_error(ctx.asset, ctx.partition, uri, value,
                                                   manager="postgres",
                                                   accepted=_ACCEPTED) from None
        parts = partition_values(ctx)
        partition_columns = list(parts or {})
        problem = pg_tables.column_problem(table.column_names, partition_columns)
        if problem:
            raise IOManagerError(f"cannot store {failures.describe(ctx.asset, ctx.partition)} "
                                 f"in {table_name}: {problem}", hint="Rename the column.",
                                 retryable=False)
        data_version = arrow_ipc_sha256(table)
        rows = int(table.num_rows)
        with self._adbc() as con, closing(con.cursor()) as cur:
            pg_tables.lock_setup(cur)
            bookkeeping.ensure(cur, self.schema)
            probed = pg_tables.probe_types(cur, table.schema)
            try:
                pg_tables.ensure_table(cur, table_name, probed, partition_columns,
                                       evolution=self.schema_evolution)
            except IOManagerError as exc:
                exc.message = f"cannot store {failures.describe(ctx.asset, ctx.partition)}: " \
                              f"{exc.message}"
                exc.args = (exc.message,)
                raise
            con.commit()
            self._replace(cur, table_name, parts, table)
            bookkeeping.record(cur, self.schema, table_name, parts, asset=ctx.asset, rows=rows,
                               value_type=_PANDAS if from_pandas else _ARROW)
            con.commit()
        return StoredValue(uri=uri, size_bytes=int(table.nbytes), rows=rows,
                           data_version=data_version)

    def load(self, ctx: StoreContext) -> Any:
        # lazy: optional dependency of the [postgres] extra
        from psycopg import sql

        table_name = self.table_for(ctx.asset)
        parts = partition_values(ctx)
        with self._adbc() as con, closing(con.cursor()) as cur:
            value_type = bookkeeping.stored_type(cur, self.schema, table_name, parts)
            columns = pg_tables.columns_of(cur, table_name.quoted())
            if value_type is None or columns is None:
                raise failures.missing_value_error(ctx.asset, ctx.partition, self.uri_for(ctx))
            names = [c.name for c in columns if c.name not in (parts or {})]
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, names)), table_name.sql())
            query += where_settings(cur, parts)
            cur.execute(pg_tables.compose(query))
            result = without_field_metadata(cur.fetch_arrow_table())
            con.rollback()
        return result.to_pandas() if value_type == _PANDAS else result

    def exists(self, ctx: StoreContext) -> bool:
        table_name = self.table_for(ctx.asset)
        with self._adbc() as con, closing(con.cursor()) as cur:
            found = bookkeeping.stored_type(cur, self.schema, table_name,
                                           partition_values(ctx)) is not None
            con.rollback()
        return found

    def delete(self, ctx: StoreContext) -> None:
        # lazy: optional dependency of the [postgres] extra
        from psycopg import sql

        table_name = self.table_for(ctx.asset)
        parts = partition_values(ctx)
        with self._adbc() as con, closing(con.cursor()) as cur:
            if pg_tables.columns_of(cur, table_name.quoted()) is not None:
                if parts is None:
                    cur.execute(pg_tables.compose(sql.SQL("DROP TABLE {}").format(
                        table_name.sql())))
                elif len(parts) == 1 and partitioned.is_partitioned(cur, table_name):
                    partitioned.drop_partition(cur, table_name, next(iter(parts.values())))
                else:
                    cur.execute(pg_tables.compose(sql.SQL("DELETE FROM {}").format(
                        table_name.sql()) + where_bound(parts)), parameters=tuple(parts.values()))
            bookkeeping.forget(cur, self.schema, table_name, parts)
            con.commit()

    # -- internals -------------------------------------------------------------------------

    @contextmanager
    def _adbc(self) -> Iterator[Any]:
        con = connection.connect_adbc(self.dsn)
        try:
            yield con
        finally:
            con.close()  # an uncommitted transaction is rolled back by the server

    def _replace(self, cur: Any, table_name: TableName, parts: dict[str, str] | None,
                 table: Any) -> None:
        # lazy: optional dependency of the [postgres] extra
        from psycopg import sql

        if parts is not None and len(parts) == 1 and partitioned.is_partitioned(cur, table_name):
            [(column, key)] = parts.items()
            partitioned.replace_partition(cur, table_name, column, key,
                                          table.replace_schema_metadata(None))
            return
        data = with_partition_columns(table, parts)
        if parts is None:
            cur.execute(pg_tables.compose(sql.SQL("TRUNCATE {}").format(table_name.sql())))
        else:
            # A table created before the partitioned layout: one table, a partition column.
            # Two writers of one partition (two runs) take turns: without this, each DELETE
            # would miss the other's uncommitted rows and both COPYs would be kept.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext($1))", parameters=(
                f"flowstone:{table_name.quoted()}:{bookkeeping_key(parts)}",))
            cur.execute(pg_tables.compose(sql.SQL("DELETE FROM {}").format(table_name.sql())
                                       + where_bound(parts)), parameters=tuple(parts.values()))
        if data.num_rows:
            cur.adbc_ingest(table_name.table, data, mode="append",
                            db_schema_name=table_name.schema)

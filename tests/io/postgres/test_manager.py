"""The postgres I/O manager against a real server: round trips, partitions, schemas, names."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from flowstone_cli.errors import ConfigError, IOManagerError
from flowstone_cli.io import StoreContext
from flowstone_cli.io.duckdb_manager import arrow_ipc_sha256
from flowstone_cli.io.postgres import PostgresIOManager
from tests.io.postgres.conftest import sql_rows
from tests.postgres_server import PASSWORD, PostgresServer


def _manager(server: PostgresServer, schema: str, **options: object) -> PostgresIOManager:
    return PostgresIOManager("/unused", dsn=server.dsn, schema=schema, **options)


def _day(asset: str, day: str) -> StoreContext:
    return StoreContext(asset=asset, partition=day, partition_path=day)


def test_arrow_round_trip_records_hash_rows_and_size(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    table = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", None, "c"],
                      "score": [0.5, 1.5, 2.5]})
    stored = manager.store(StoreContext("scores"), table)
    assert stored.rows == 3
    assert stored.data_version == arrow_ipc_sha256(table)
    assert stored.size_bytes == table.nbytes
    assert stored.uri.endswith(f"#{pg_schema}.scores") and PASSWORD not in stored.uri
    assert manager.load(StoreContext("scores")).equals(table)
    assert sql_rows(pg_server, f'SELECT count(*) FROM "{pg_schema}"."scores"') == [(3,)]


def test_pandas_comes_back_as_pandas_and_records_as_arrow(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    frame = pd.DataFrame({"user_id": [1, 2], "spend": [3.5, 4.0]})
    manager.store(StoreContext("frame"), frame)
    loaded = manager.load(StoreContext("frame"))
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, frame)
    manager.store(StoreContext("records"), [{"k": 1, "v": "x"}, {"k": 2, "v": None}])
    assert manager.load(StoreContext("records")).to_pylist() == [{"k": 1, "v": "x"},
                                                                   {"k": 2, "v": None}]


def test_partitions_replace_only_their_own_rows(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    for day, n in (("2025-01-01", 3), ("2025-01-02", 5)):
        manager.store(_day("events", day), pa.table({"n": list(range(n))}))
    manager.store(_day("events", "2025-01-01"), pa.table({"n": [42]}))
    assert manager.load(_day("events", "2025-01-01")).to_pylist() == [{"n": 42}]
    assert manager.load(_day("events", "2025-01-02")).num_rows == 5
    rows = sql_rows(pg_server, f'SELECT _partition, count(*) FROM "{pg_schema}".events '
                    "GROUP BY 1 ORDER BY 1")
    assert rows == [("2025-01-01", 1), ("2025-01-02", 5)]
    assert not manager.exists(_day("events", "2025-01-03"))
    manager.delete(_day("events", "2025-01-01"))
    assert not manager.exists(_day("events", "2025-01-01"))
    assert manager.exists(_day("events", "2025-01-02"))
    with pytest.raises(IOManagerError, match="no stored value for asset .events. partition"):
        manager.load(_day("events", "2025-01-01"))


def test_an_empty_partition_exists(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    manager.store(_day("events", "2025-01-01"), pa.table({"n": [1]}))
    manager.store(_day("events", "2025-01-02"), pa.table({"n": pa.array([], pa.int64())}))
    assert manager.exists(_day("events", "2025-01-02"))
    assert manager.load(_day("events", "2025-01-02")).num_rows == 0


def test_multi_partitions_get_one_column_per_dimension(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    ctx = StoreContext("sales", partition="date=2025-01-01,tenant=acme",
                       partition_path="date=2025-01-01/tenant=acme")
    manager.store(ctx, pa.table({"amount": [1.0, 2.0]}))
    manager.store(StoreContext("sales", partition="date=2025-01-01,tenant=zeta",
                               partition_path="date=2025-01-01/tenant=zeta"),
                  pa.table({"amount": [7.0]}))
    assert manager.load(ctx).to_pylist() == [{"amount": 1.0}, {"amount": 2.0}]
    rows = sql_rows(pg_server, f'SELECT _partition_tenant, _partition_date, amount FROM '
                    f'"{pg_schema}".sales ORDER BY amount')
    assert rows == [("acme", "2025-01-01", 1.0), ("acme", "2025-01-01", 2.0),
                    ("zeta", "2025-01-01", 7.0)]


def test_incompatible_schema_names_the_column(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    manager.store(_day("events", "2025-01-01"), pa.table({"n": [1], "label": ["a"]}))
    with pytest.raises(IOManagerError, match="column 'n' is bigint in the table but text"):
        manager.store(_day("events", "2025-01-02"), pa.table({"n": ["x"], "label": ["a"]}))
    with pytest.raises(IOManagerError, match="has no column 'extra'") as info:
        manager.store(_day("events", "2025-01-02"),
                      pa.table({"n": [1], "label": ["a"], "extra": [1.0]}))
    assert "add_columns" in info.value.hint
    with pytest.raises(IOManagerError, match="column 'label' is in the table but not in"):
        manager.store(_day("events", "2025-01-02"), pa.table({"n": [1]}))
    # Nothing was written by the refused stores.
    assert not manager.exists(_day("events", "2025-01-02"))


def test_add_columns_extends_the_table(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema, schema_evolution="add_columns")
    manager.store(_day("events", "2025-01-01"), pa.table({"n": [1], "label": ["a"]}))
    manager.store(_day("events", "2025-01-02"), pa.table({"n": [2], "label": ["b"],
                                                          "weight": [0.5]}))
    manager.store(_day("events", "2025-01-03"), pa.table({"n": [3]}))
    assert manager.load(_day("events", "2025-01-01")).to_pylist() == [
        {"n": 1, "label": "a", "weight": None}]
    assert manager.load(_day("events", "2025-01-03")).to_pylist() == [
        {"n": 3, "label": None, "weight": None}]


def test_hostile_table_names_are_quoted(pg_server, pg_schema) -> None:
    hostile = 'Robert"; DROP TABLE x; --'
    manager = _manager(pg_server, pg_schema, tables={"victim": f"{pg_schema}.{hostile}"})
    manager.store(StoreContext("victim"), pa.table({'weird "col"': [1, 2]}))
    assert manager.load(StoreContext("victim")).column_names == ['weird "col"']
    names = sql_rows(pg_server, "SELECT table_name FROM information_schema.tables WHERE "
                     "table_schema = %s ORDER BY 1", pg_schema)
    assert (hostile,) in names


@pytest.mark.parametrize("name, message", [
    ("a.b.c", "more than one '.'"),
    ("x" * 64, "longer than PostgreSQL's 63 bytes"),
    ("_flowstone_partitions", "reserved"),
    ("bad\x00name", "NUL"),
])
def test_unusable_table_names_are_refused(pg_server, pg_schema, name, message) -> None:
    with pytest.raises(ConfigError, match=message):
        _manager(pg_server, pg_schema, tables={"asset": name})


def test_an_asset_name_too_long_for_postgres_is_refused(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    with pytest.raises(ConfigError, match="longer than PostgreSQL"):
        manager.store(StoreContext("a" * 100), pa.table({"n": [1]}))


def test_partition_column_names_are_reserved(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    with pytest.raises(IOManagerError, match="used for partition keys"):
        manager.store(_day("events", "2025-01-01"), pa.table({"_partition": ["x"]}))


def test_check_problems_name_unknown_and_shared_tables(pg_server, pg_schema) -> None:
    manager = _manager(pg_server, pg_schema, tables={"a": "shared", "b": "shared",
                                                     "ghost": "g"})
    problems = manager.configuration_problems(["a", "b"])
    assert any("no asset named 'ghost'" in p for p in problems)
    assert any("'a' and 'b' are both stored in table" in p for p in problems)


def test_bad_password_and_unreachable_server_never_show_the_password(pg_server) -> None:
    wrong = "Wr0ng-Secret-Value"
    bad = PostgresIOManager("/unused", dsn=pg_server.dsn_with(password=wrong))
    problem = bad.health_check()
    assert problem is not None and "password authentication failed" in problem
    assert wrong not in problem and "flowstone@127.0.0.1" in problem
    with pytest.raises(IOManagerError) as info:
        bad.store(StoreContext("x"), pa.table({"n": [1]}))
    assert wrong not in str(info.value) and wrong not in info.value.hint
    down = PostgresIOManager("/unused", dsn=pg_server.dsn_with(port=1))
    problem = down.health_check()
    assert problem is not None and "port 1 failed" in problem and PASSWORD not in problem
    assert PASSWORD not in repr(down)


def test_bad_options_are_config_errors(pg_server) -> None:
    with pytest.raises(ConfigError, match="`dsn` option is required"):
        PostgresIOManager("/unused")
    with pytest.raises(ConfigError, match="schema_evolution"):
        PostgresIOManager("/unused", dsn=pg_server.dsn, schema_evolution="drop_everything")
    with pytest.raises(ConfigError, match="not a valid PostgreSQL connection string") as info:
        PostgresIOManager("/unused", dsn="password=hunter22 nonsense")
    assert "hunter22" not in str(info.value)


def test_two_writers_of_one_partition_take_turns(pg_server, pg_schema) -> None:
    from concurrent.futures import ThreadPoolExecutor

    manager = _manager(pg_server, pg_schema)
    manager.store(_day("events", "2025-01-01"), pa.table({"n": [0]}))
    values = [pa.table({"n": list(range(i * 1000, i * 1000 + 20_000))}) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda v: manager.store(_day("events", "2025-01-01"), v), values))
    # Exactly one writer's rows, never two writers' rows kept side by side.
    assert sql_rows(pg_server, f'SELECT count(*) FROM "{pg_schema}".events') == [(20_000,)]


def _children(server: PostgresServer, schema: str, table: str) -> list[tuple[str, str]]:
    return sql_rows(server, "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
                    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(%s) ORDER BY 2", f'"{schema}"."{table}"')


def test_a_partitioned_asset_is_one_table_with_a_child_per_partition(pg_server,
                                                                    pg_schema) -> None:
    manager = _manager(pg_server, pg_schema)
    for day in ("2025-01-01", "2025-01-02"):
        manager.store(_day("daily", day), pa.table({"n": [1, 2, 3]}))
    assert sql_rows(pg_server, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                    f'"{pg_schema}".daily') == [("p",)]
    before = _children(pg_server, pg_schema, "daily")
    assert [bound for _, bound in before] == ["FOR VALUES IN ('2025-01-01')",
                                              "FOR VALUES IN ('2025-01-02')"]
    manager.store(_day("daily", "2025-01-01"), pa.table({"n": [7]}))  # replaced: a new child
    after = dict((bound, name) for name, bound in _children(pg_server, pg_schema, "daily"))
    assert after["FOR VALUES IN ('2025-01-01')"] != dict(
        (b, n) for n, b in before)["FOR VALUES IN ('2025-01-01')"]
    assert after["FOR VALUES IN ('2025-01-02')"] == before[1][0]
    assert sql_rows(pg_server, f'SELECT _partition, n FROM "{pg_schema}".daily ORDER BY 1, 2'
                    ) == [("2025-01-01", 7), ("2025-01-02", 1), ("2025-01-02", 2),
                          ("2025-01-02", 3)]
    manager.delete(_day("daily", "2025-01-02"))
    assert [b for _, b in _children(pg_server, pg_schema, "daily")] == [
        "FOR VALUES IN ('2025-01-01')"]


def test_a_table_from_before_the_partitioned_layout_keeps_working(pg_server,
                                                                 pg_schema) -> None:
    # FlowStone 0.x created one plain table with a partition column (and a BRIN index).
    sql_rows(pg_server, f'CREATE SCHEMA IF NOT EXISTS "{pg_schema}"')
    sql_rows(pg_server, f'CREATE TABLE "{pg_schema}".legacy (n bigint, _partition text NOT NULL)')
    manager = _manager(pg_server, pg_schema)
    for value in ([1, 2], [3]):
        manager.store(_day("legacy", "2025-01-01"), pa.table({"n": value}))
    manager.store(_day("legacy", "2025-01-02"), pa.table({"n": [9]}))
    assert manager.load(_day("legacy", "2025-01-01")).to_pylist() == [{"n": 3}]
    assert sql_rows(pg_server, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                    f'"{pg_schema}".legacy') == [("r",)]
    manager.delete(_day("legacy", "2025-01-01"))
    assert sql_rows(pg_server, f'SELECT _partition, n FROM "{pg_schema}".legacy') == [
        ("2025-01-02", 9)]

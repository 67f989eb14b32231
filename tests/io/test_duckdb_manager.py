"""The duckdb warehouse manager: a table per asset, partitions, lock conflicts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from flowstone_cli.errors import ConfigError, IOManagerError
from flowstone_cli.io import DuckDBIOManager, StoreContext

REPORT = StoreContext(asset="report")


def _day(key: str) -> StoreContext:
    return StoreContext(asset="events", partition=key, partition_path=key)


def _hold_lock(database: Path, seconds: float) -> subprocess.Popen[str]:
    """A process that opens `database` read-write, says "locked", holds it, then exits; just
    before releasing it, it creates `<database>.releasing`."""
    code = textwrap.dedent(f"""
        import sys, time, duckdb
        from pathlib import Path
        con = duckdb.connect({str(database)!r})
        print("locked", flush=True)
        time.sleep({seconds})
        Path({str(database) + ".releasing"!r}).touch()
        con.close()
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_unpartitioned_round_trip_replaces_the_table(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    manager.store(REPORT, pa.table({"a": [1, 2]}))
    stored = manager.store(REPORT, pa.table({"a": [3], "b": ["x"]}))
    assert stored.uri == f"duckdb://{tmp_path / 'warehouse.duckdb'}#report"
    assert stored.rows == 1
    assert manager.load(REPORT).equals(pa.table({"a": [3], "b": ["x"]}))


def test_partitions_are_stored_loaded_and_replaced_independently(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    manager.store(_day("2025-01-15"), pa.table({"n": [1, 2]}))
    manager.store(_day("2025-01-16"), pa.table({"n": [3]}))
    stored = manager.store(_day("2025-01-15"), pa.table({"n": [9]}))
    assert stored.uri.endswith("#events?partition=2025-01-15")
    assert manager.load(_day("2025-01-15")).equals(pa.table({"n": [9]}))
    assert manager.load(_day("2025-01-16")).equals(pa.table({"n": [3]}))


def test_partitioned_table_has_a_partition_column_in_the_database(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    manager.store(_day("2025-01-15"), pa.table({"n": [1]}))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('SELECT n, _partition FROM "events"').fetchall() == [
            (1, "2025-01-15")]


def test_empty_partition_exists_and_loads_as_an_empty_table(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    manager.store(_day("2025-01-15"), pa.table({"n": [1]}))
    manager.store(_day("2025-01-16"), pa.table({"n": pa.array([], pa.int64())}))
    assert manager.exists(_day("2025-01-16"))
    assert manager.load(_day("2025-01-16")).num_rows == 0
    assert not manager.exists(_day("2025-01-17"))


def test_delete_partition_leaves_other_partitions(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    manager.store(_day("2025-01-15"), pa.table({"n": [1]}))
    manager.store(_day("2025-01-16"), pa.table({"n": [2]}))
    manager.delete(_day("2025-01-15"))
    assert not manager.exists(_day("2025-01-15"))
    assert manager.load(_day("2025-01-16")).equals(pa.table({"n": [2]}))


def test_dataframe_and_list_of_dicts_are_accepted(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    manager.store(REPORT, pd.DataFrame({"a": [1, 2]}))
    assert manager.load(REPORT).column("a").to_pylist() == [1, 2]
    manager.store(REPORT, [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert manager.load(REPORT).to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]


def test_unsupported_value_is_refused_with_the_accepted_types(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError, match="list of dicts"):
        DuckDBIOManager(str(tmp_path)).store(REPORT, "not a table")


def test_data_version_is_deterministic_and_follows_content(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    first = manager.store(REPORT, pa.table({"a": [1, 2]}))
    again = manager.store(REPORT, pa.table({"a": [1, 2]}))
    other = manager.store(REPORT, pa.table({"a": [1, 3]}))
    assert first.data_version == again.data_version != other.data_version


def test_missing_value_says_materialize_first(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path))
    with pytest.raises(IOManagerError) as caught:
        manager.load(_day("2025-01-15"))
    assert "materialize events first" in caught.value.hint
    manager.store(_day("2025-01-16"), pa.table({"n": [1]}))
    with pytest.raises(IOManagerError, match="no stored value"):
        manager.load(_day("2025-01-15"))


def test_relative_path_option_is_relative_to_the_root(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path), path="dw/analytics.duckdb")
    manager.store(REPORT, pa.table({"a": [1]}))
    assert (tmp_path / "dw" / "analytics.duckdb").is_file()


def test_metadata_file_name_is_refused_as_warehouse(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="metadata"):
        DuckDBIOManager(str(tmp_path), path="flowstone.duckdb")


def test_lock_conflict_is_retried_until_the_other_process_releases(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path), lock_timeout=15)
    manager.store(REPORT, pa.table({"a": [1]}))
    holder = _hold_lock(tmp_path / "warehouse.duckdb", seconds=1.0)
    manager.store(REPORT, pa.table({"a": [2]}))
    # It really had to wait: it could only write once the holder was letting go.
    assert (tmp_path / "warehouse.duckdb.releasing").exists()
    assert holder.wait(timeout=120) == 0
    assert manager.load(REPORT).equals(pa.table({"a": [2]}))


def test_lock_held_past_the_deadline_names_the_holding_pid(tmp_path: Path) -> None:
    manager = DuckDBIOManager(str(tmp_path), lock_timeout=0.5)
    manager.store(REPORT, pa.table({"a": [1]}))
    holder = _hold_lock(tmp_path / "warehouse.duckdb", seconds=10)
    try:
        with pytest.raises(IOManagerError) as caught:
            manager.store(REPORT, pa.table({"a": [2]}))
    finally:
        holder.kill()
        holder.wait(timeout=120)
    assert f"PID {holder.pid}" in str(caught.value)
    assert caught.value.retryable is True
    assert manager.load(REPORT).equals(pa.table({"a": [1]}))


def test_workers_creating_the_warehouse_together_all_store(tmp_path: Path) -> None:
    # Worker processes storing their first values at once used to see a half-created file
    # ("not a valid DuckDB database file"); the warehouse is now created atomically.
    script = textwrap.dedent(f"""
        import sys, pyarrow as pa
        from flowstone_cli.io import DuckDBIOManager, StoreContext
        manager = DuckDBIOManager({str(tmp_path)!r}, path="warehouse.duckdb", lock_timeout=120)
        part = sys.argv[1]
        manager.store(StoreContext(asset="metrics", partition=part, partition_path=part),
                      pa.table({{"x": [int(part)]}}))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)], stderr=subprocess.PIPE,
                              text=True) for i in range(6)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('SELECT count(*) FROM "metrics"').fetchone() == (6,)
    assert not list(tmp_path.glob(".*creating*"))

"""An I/O manager can never write asset tables into the metadata store."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flowstone_cli.errors import IOManagerError
from flowstone_cli.io.base import StoreContext
from flowstone_cli.io.duckdb_manager import DuckDBIOManager
from flowstone_cli.metadata.store import MetadataStore
from tests.cli_runner import run_cli
from tests.security.test_hostile_text import small_project

ASSETS = """
    from flowstone_cli import asset


    @asset(io_manager="warehouse")
    def runs():
        return [{"x": 1}]
    """


def test_a_duckdb_io_manager_on_the_metadata_file_is_refused_at_load(tmp_path: Path) -> None:
    project = small_project(tmp_path, ASSETS)
    config = project / "flowstone.toml"
    config.write_text(config.read_text() + '\n[io_managers.warehouse]\ntype = "duckdb"\n'
                      'path = "warehouse.duckdb"\n')
    assert run_cli("-p", str(project), "materialize", "runs").code == 0
    store = project / "data" / "flowstone.duckdb"
    # [metadata] path changed to the warehouse file: the clash is found before anything runs.
    clashing = config.read_text() + '\n[metadata]\npath = "data/warehouse.duckdb"\n'
    config.write_text(clashing)
    for command in (["check"], ["materialize", "runs"], ["list"]):
        result = run_cli("-p", str(project), *command)
        assert result.code == 2, result.stdout + result.stderr
        assert "FlowStone's metadata file" in result.stderr, result.stderr
    # The built-in `duckdb` manager (warehouse.duckdb at the storage root) clashes the same way.
    config.write_text(clashing.replace('[io_managers.warehouse]\ntype = "duckdb"\n'
                                       'path = "warehouse.duckdb"\n',
                                       '[io_managers.warehouse]\ntype = "json"\n'))
    assert run_cli("-p", str(project), "check").code == 2
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_the_manager_refuses_to_write_into_a_file_holding_metadata(tmp_path: Path) -> None:
    store_path = tmp_path / "meta.duckdb"
    with MetadataStore(store_path).writer() as writer:
        writer.meta()  # creates the file at the current schema
    link = tmp_path / "data" / "warehouse.duckdb"
    link.parent.mkdir()
    link.symlink_to(store_path)  # made after any load-time check could look
    manager = DuckDBIOManager(str(tmp_path / "data"))
    with pytest.raises(IOManagerError, match="is a FlowStone metadata store"):
        manager.store(StoreContext(asset="runs"), [{"x": 1}])
    with pytest.raises(IOManagerError, match="is a FlowStone metadata store"):
        manager.delete(StoreContext(asset="steps"))
    with MetadataStore(store_path).reader() as reader:
        assert reader.list_runs() == []
    with duckdb.connect(str(store_path), read_only=True) as con:
        columns = {r[0] for r in con.execute("DESCRIBE runs").fetchall()}
    assert "run_id" in columns and "x" not in columns

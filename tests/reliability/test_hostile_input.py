"""Hostile names, keys and configuration through the real CLI.

Fault cases 13 (hostile partition keys and names write nothing outside the storage root) and 14
(resolved secrets never reach output, logs, errors, metadata or JSON); and identifiers reaching
SQL are quoted, values bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from flowstone_cli.api.materialize import MaterializeOptions, materialize
from flowstone_cli.api.partitions import add_keys
from flowstone_cli.api.project import open_project
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.io import DuckDBIOManager, StoreContext
from flowstone_cli.planning.partition_selection import PartitionRequest
from tests.reliability.harness import flowstone, make_project, rows

PARTITIONED = """
    from flowstone_cli import DynamicPartitions, StaticPartitions, asset

    @asset(partitions=DynamicPartitions("customers"))
    def per_customer(context):
        return context.partition

    @asset(partitions=StaticPartitions(["eu", "us"]))
    def per_region(context):
        return context.partition
"""

HOSTILE_KEYS = ["../x", "/etc", "..", "x" * 300, "a\\b", "k;drop table steps"]


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("command", ["materialize", "partitions add"])
def test_hostile_partition_keys_are_refused_and_nothing_is_written(tmp_path: Path,
                                                                   command: str) -> None:
    project = make_project(tmp_path / "project", {"parts": PARTITIONED})
    assert flowstone(project, "partitions", "add", "customers", "acme").code == 0
    before = _tree(tmp_path)
    if command == "materialize":
        cases = [("per_customer", key) for key in HOSTILE_KEYS] + [
            ("per_region", "../x"), ("per_region", "/etc")]
        for asset, key in cases:
            result = flowstone(project, "materialize", asset, "--partition", key)
            assert result.code == 2, (asset, key, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr
    else:
        for key in HOSTILE_KEYS:
            result = flowstone(project, "partitions", "add", "customers", key)
            assert result.code == 2, (key, result.stderr)
            assert "not allowed" in result.stderr or "characters long" in result.stderr
    assert _tree(tmp_path) == before  # no file anywhere, inside or outside the project
    assert rows(project, "SELECT partition_key FROM dynamic_partitions") == [("acme",)]
    assert rows(project, "SELECT count(*) FROM runs") == [(0,)]


def test_a_nul_in_a_partition_key_is_refused_at_the_python_api(tmp_path: Path) -> None:
    # argv cannot carry a NUL byte, so this path is reached from Python only.
    project = open_project(make_project(tmp_path / "project", {"parts": PARTITIONED}))
    before = _tree(tmp_path)
    with pytest.raises(FlowStoneError, match="not allowed"):
        add_keys(project, "customers", ["a\x00b"])
    with pytest.raises(FlowStoneError):
        materialize(project, MaterializeOptions(selection=["per_region"],
                                                partitions=PartitionRequest(keys=("e\x00u",))))
    assert _tree(tmp_path) == before


def test_a_hostile_asset_name_fails_the_project_check(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"evil": """
        from flowstone_cli import asset

        @asset(name="../evil")
        def evil():
            return 1
    """})
    result = flowstone(project, "materialize", "*")
    assert result.code == 2
    assert "asset name `../evil` is not a valid identifier" in result.stderr
    assert not (tmp_path / "evil.pkl").exists() and not (project / "data").exists()


def test_identifiers_reaching_sql_are_quoted_and_values_bound(tmp_path: Path) -> None:
    # Asset names that are SQL keywords, and keys with the punctuation keys may hold.
    manager = DuckDBIOManager(str(tmp_path))
    for asset in ("select", "order", "table"):
        for key in ("eu west:1", "a+b@c-d.e"):
            manager.store(StoreContext(asset=asset, partition=key, partition_path=key),
                          pa.table({"v": [asset, key]}))
    loaded = manager.load(StoreContext(asset="select", partition="eu west:1",
                                       partition_path="eu west:1"))
    assert loaded.column("v").to_pylist() == ["select", "eu west:1"]
    with duckdb.connect(manager.database_path, read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"select", "order", "table"} <= tables


SECRET = "wJalrXUtnFEMI-K7MDENG-SuperSecret"
KEY_ID = "AKIAFLOWSTONE1234567"

S3_TOML = """
    [storage]
    root = "s3://flowstone-test/lake"
    storage_options = { endpoint_url = "http://127.0.0.1:9", key = "${S3_KEY}", secret = "${S3_SECRET}", config_kwargs = { retries = { max_attempts = 1 }, connect_timeout = 1 } }

    [executor]
    type = "process"
    start_method = "spawn"
"""


def test_resolved_secrets_never_reach_output_logs_errors_or_metadata(tmp_path: Path) -> None:
    # Spawned workers are the ones that receive a pickled runner; forked workers (the default,
    # tests/e2e/test_materialize.py) inherit the loaded project and are sent no secret at all.
    project = make_project(tmp_path / "project", {"pipeline": """
        from flowstone_cli import asset

        @asset
        def upload(context):
            context.log.info("uploading")
            return [1, 2, 3]
    """}, toml=S3_TOML)
    env = {"S3_KEY": KEY_ID, "S3_SECRET": SECRET}
    outputs = []
    for args in (["materialize", "upload"], ["materialize", "upload", "--json"],
                 ["--log-format", "json", "materialize", "upload"],
                 ["--debug", "materialize", "upload"]):
        result = flowstone(project, *args, env=env)
        assert result.code == 1, result.stderr  # the endpoint refuses: the step fails
        outputs += [result.stdout, result.stderr]
    run_id = json.loads(outputs[2])["run_id"]
    for args in (["runs", "show", run_id], ["runs", "show", run_id, "--json"],
                 ["runs", "logs", run_id, "--all", "--json"], ["runs", "list", "--json"]):
        result = flowstone(project, *args, env=env)
        assert result.code == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    assert "127.0.0.1:9" in "".join(outputs)  # the errors do say where it failed
    # A remote storage root keeps the metadata file in the project's .flowstone folder.
    with duckdb.connect(str(project / ".flowstone" / "flowstone.duckdb"), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            outputs.append(json.dumps(con.execute(
                f'SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "{table}"').fetchall()))
    leaks = [text for text in outputs if SECRET in text or KEY_ID in text]
    assert leaks == []

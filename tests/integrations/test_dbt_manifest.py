"""The dbt manifest cache, source mapping, partition vars and the missing-extra error, without
running dbt (the cache is written by hand, keyed by the project's real hash)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from flowstone_cli.definitions.batch import BatchMember
from flowstone_cli.integrations.dbt_manifest import (
    CACHE_FILE,
    DbtLocation,
    extract,
    load_nodes,
    project_hash,
)
from flowstone_cli.integrations.dbt_runner import partition_vars
from tests.cli_runner import REPO, run_cli

MANIFEST = {
    "nodes": {
        "model.p.stg": {"name": "stg", "resource_type": "model", "package_name": "p",
                        "fqn": ["p", "staging", "stg"], "config": {"materialized": "view"},
                        "checksum": {"checksum": "a" * 64}, "original_file_path": "models/stg.sql",
                        "depends_on": {"nodes": ["source.p.raw.orders", "source.p.raw.events",
                                                 "source.p.raw.users"]},
                        "tags": ["nightly"], "description": "staged"},
        "model.p.mart": {"name": "mart", "resource_type": "model", "package_name": "p",
                         "fqn": ["p", "mart"], "config": {"group": "finance"},
                         "checksum": {"checksum": "b" * 64}, "original_file_path": "models/mart.sql",
                         "depends_on": {"nodes": ["model.p.stg"]}, "tags": []},
        "test.p.not_null_stg_id": {"name": "not_null_stg_id", "resource_type": "test",
                                   "attached_node": "model.p.stg",
                                   "depends_on": {"nodes": ["model.p.stg"]}},
    },
    "sources": {
        "source.p.raw.orders": {"source_name": "raw", "name": "orders", "meta": {}},
        "source.p.raw.events": {"source_name": "raw", "name": "events",
                                "config": {"meta": {"flowstone": {"asset": "event_log"}}}},
        "source.p.raw.users": {"source_name": "raw", "name": "users", "meta": {}},
    },
}


def _dbt_project(root: Path) -> DbtLocation:
    project = root / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    (project / "models" / "stg.sql").write_text("select 1\n")
    location = DbtLocation(project, project)
    (project / "target").mkdir()
    cache = {"hash": project_hash(location), **extract(MANIFEST, None)}
    (project / "target" / CACHE_FILE).write_text(json.dumps(cache))
    return location


def test_extract_keeps_asset_nodes_and_test_owners() -> None:
    content = extract(MANIFEST, ["model.p.mart"])
    assert [n["name"] for n in content["nodes"]] == ["mart"]
    assert content["tests"] == {"test.p.not_null_stg_id": "model.p.stg"}
    assert content["sources"]["source.p.raw.events"]["meta"]["flowstone"]["asset"] == "event_log"


def test_project_hash_follows_sql_not_dbt_outputs(tmp_path: Path) -> None:
    location = _dbt_project(tmp_path)
    before = project_hash(location)
    (location.project_dir / "target" / "run_results.json").write_text("{}")
    (location.project_dir / "logs").mkdir()
    (location.project_dir / "logs" / "dbt.log").write_text("x")
    (location.project_dir / "warehouse.duckdb").write_bytes(b"db")
    assert project_hash(location) == before
    (location.project_dir / "models" / "stg.sql").write_text("select 2\n")
    assert project_hash(location) != before


def test_a_fresh_cache_is_read_without_running_dbt(tmp_path: Path) -> None:
    location = _dbt_project(tmp_path)
    nodes = load_nodes(location)
    assert {n["name"] for n in nodes.nodes} == {"stg", "mart"}


def test_sources_map_by_explicit_mapping_meta_and_name(tmp_path: Path) -> None:
    location = _dbt_project(tmp_path)
    project = tmp_path
    (project / "flowstone.toml").write_text('[project]\nname = "mapped"\n')
    (project / "assets").mkdir()
    (project / "assets" / "pipeline.py").write_text(textwrap.dedent('''
        from flowstone_cli import asset
        from flowstone_cli.integrations.dbt import dbt_assets

        @asset
        def orders_table():
            return 1

        @asset
        def event_log():
            return 2

        @asset
        def users():
            return 3

        shop = dbt_assets("../dbt", source_assets={"raw.orders": "orders_table"})
    '''))
    listed = run_cli("-p", str(project), "list", "--json")
    assert listed.code == 0, listed.stderr
    data = listed.json()
    assets = {a["name"]: a for a in (data["assets"] if isinstance(data, dict) else data)}
    assert set(assets["stg"]["deps"]) == {"orders_table", "event_log", "users"}
    assert assets["mart"]["deps"] == ["stg"]
    assert assets["mart"]["group"] == "finance" and assets["stg"]["group"] == "staging"
    assert assets["stg"]["tags"] == {"dbt": "model", "nightly": "true"}
    assert location.project_dir.exists()


def test_list_with_a_fresh_cache_does_not_import_dbt(tmp_path: Path) -> None:
    _dbt_project(tmp_path)
    (tmp_path / "flowstone.toml").write_text('[project]\nname = "lazy"\n')
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "dbt_models.py").write_text(
        "from flowstone_cli.integrations.dbt import dbt_assets\nshop = dbt_assets('../dbt')\n")
    code = ("import sys, io, contextlib\n"
            "from flowstone_cli.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['-p', {str(tmp_path)!r}, 'list'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dbt', 'dbt_common', "
            "'duckdb')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_the_extra_the_error_names_it_and_exits_2(tmp_path: Path) -> None:
    _dbt_project(tmp_path)
    (tmp_path / "flowstone.toml").write_text('[project]\nname = "noextra"\n')
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "dbt_models.py").write_text(
        "from flowstone_cli.integrations.dbt import dbt_assets\nshop = dbt_assets('../dbt')\n")
    shim = tmp_path / "shim"
    shim.mkdir()
    # Make this interpreter look like one without dbt installed.
    (shim / "sitecustomize.py").write_text(textwrap.dedent('''
        import importlib.metadata as metadata
        _version = metadata.version
        def version(name):
            if name.lower().startswith("dbt"):
                raise metadata.PackageNotFoundError(name)
            return _version(name)
        metadata.version = version
    '''))
    result = run_cli("-p", str(tmp_path), "check", env={"PYTHONPATH": str(shim)})
    assert result.code == 2
    output = result.stdout + result.stderr
    assert "pip install 'flowstone-cli[dbt]'" in output
    assert "Traceback" not in output


def test_partition_vars() -> None:
    member = BatchMember(step_id="s", asset="a", partition="2025-01-02",
                         partition_window=("2025-01-02T00:00:00+00:00",
                                           "2025-01-03T00:00:00+00:00"),
                         partition_keys={}, run_id="r", attempt=1)
    assert partition_vars(member) == {"partition": "2025-01-02",
                                      "partition_start": "2025-01-02T00:00:00+00:00",
                                      "partition_end": "2025-01-03T00:00:00+00:00"}
    unpartitioned = BatchMember(step_id="s", asset="a", partition=None, partition_window=None,
                                partition_keys={}, run_id="r", attempt=1)
    assert partition_vars(unpartitioned) == {}


def test_a_dbt_project_that_does_not_parse_is_a_clear_load_error(tmp_path: Path) -> None:
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: p\nprofile: p\nconfig-version: 2\n"
                                             "version: '1.0'\n")
    (project / "profiles.yml").write_text("p:\n  target: dev\n  outputs:\n    dev:\n"
                                          "      type: duckdb\n      path: ':memory:'\n")
    (project / "models" / "broken.sql").write_text("select {{ ref('no_such_model') }}\n")
    (tmp_path / "flowstone.toml").write_text('[project]\nname = "broken"\n')
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "dbt_models.py").write_text(
        "from flowstone_cli.integrations.dbt import dbt_assets\nshop = dbt_assets('../dbt')\n")
    result = run_cli("-p", str(tmp_path), "check", env={"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
                     timeout=600)
    assert result.code == 2
    output = result.stdout + result.stderr
    assert "dbt could not parse the project" in output and "no_such_model" in output
    assert "Traceback" not in output

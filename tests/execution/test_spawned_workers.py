"""Workers started with spawn rebuild the project themselves: no secret is pickled to them."""

from __future__ import annotations

import pickle
from pathlib import Path

from flowstone_cli.execution.assembly import ProjectRunner
from tests.cli_runner import copy_fixture, run_cli


def test_project_runner_pickles_only_the_folder_and_asset_names(tmp_path: Path) -> None:
    runner = ProjectRunner(str(tmp_path), ["a", "b"])
    data = pickle.dumps(runner)
    assert len(data) < 300
    clone = pickle.loads(data)
    assert clone.root == str(tmp_path) and clone.assets == ("a", "b")


def test_spawn_start_method_runs_steps_with_resources(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    toml = project / "flowstone.toml"
    toml.write_text(toml.read_text().replace("workers = 2", 'workers = 2\nstart_method = "spawn"'))
    log = tmp_path / "setup.log"
    result = run_cli("-p", str(project), "materialize", "*", "--json",
                     env={"COUNTER_TOKEN": "tok-secret-123", "COUNTER_SETUP_LOG": str(log)})
    assert result.code == 0, result.stdout + result.stderr
    assert (project / "data" / "shout.txt").read_text() == "VALUE IS DEFAULT:11"
    lines = log.read_text().splitlines()
    assert sum(line.startswith("setup") for line in lines) == sum(
        line.startswith("teardown") for line in lines) >= 1

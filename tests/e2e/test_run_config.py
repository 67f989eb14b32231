"""Run configuration end to end: `@asset(config=Model)`, `--config`, `--config-file`, a
schedule's `config=`, validation before any step, and `config changed` staleness — the real
`flowstone` command, steps in worker processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

ASSETS = '''
import json
from pathlib import Path

from pydantic import BaseModel

from flowstone_cli import DailyPartitions, asset, schedule

SEEN = Path(__file__).resolve().parent.parent / "seen.jsonl"


class Sample(BaseModel):
    limit: int = 3
    label: str = "x"


class Window(BaseModel):
    days: int = 7


def _remember(context):
    with SEEN.open("a") as fh:
        fh.write(json.dumps({"asset": context.asset, "partition": context.partition,
                             "config": context.config.model_dump()}) + "\\n")


@asset(config=Sample)
def numbers(context):
    _remember(context)
    return list(range(context.config.limit))


@asset(config=Window, partitions=DailyPartitions(start="2025-01-01", timezone="UTC"))
def daily(context):
    _remember(context)
    return context.config.days


@asset
def total(context, numbers):
    assert context.config is None
    return sum(numbers)


nightly = schedule(name="nightly", cron="0 2 * * *", target="numbers",
                   config={"numbers": {"limit": 9, "label": "from-schedule"}})
'''


def make_project(root: Path, start_method: str | None = None) -> Path:
    project = root / "proj"
    (project / "assets").mkdir(parents=True)
    toml = '[project]\nname = "runconfig"\n'
    if start_method:
        toml += f'\n[executor]\ntype = "process"\nstart_method = "{start_method}"\n'
    (project / "flowstone.toml").write_text(toml)
    (project / "assets" / "pipeline.py").write_text(ASSETS)
    return project


def seen(project: Path) -> list[dict]:
    path = project / "seen.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def cli(project: Path, *args: str, code: int = 0):
    result = run_cli("-p", str(project), *args)
    assert result.code == code, result.stdout + result.stderr
    return result


def test_defaults_overrides_and_config_changed(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    cli(project, "materialize", "numbers+", "--executor", "process")
    assert seen(project) == [{"asset": "numbers", "partition": None,
                              "config": {"limit": 3, "label": "x"}}]
    plan = cli(project, "plan", "numbers+").stdout
    assert "config changed" not in plan and "up to date" in plan
    # Same values as the defaults, given explicitly: same config, nothing runs.
    again = cli(project, "materialize", "numbers+", "--config", "limit=3")
    assert "2 up to date" in again.stdout
    assert len(seen(project)) == 1
    # A different config re-runs the asset (and what reads it) with it.
    changed = cli(project, "materialize", "numbers+", "--config", "limit=5",
                  "--config", "label=big run")
    assert "2 succeeded" in changed.stdout
    assert seen(project)[-1]["config"] == {"limit": 5, "label": "big run"}
    # Without --config, the defaults are wanted again: the value made with limit=5 is stale.
    assert "config changed" in cli(project, "plan", "numbers+").stdout
    status = run_cli("-p", str(project), "status", "numbers")
    assert "config changed" in status.stdout, status.stdout + status.stderr
    # The run records its config: `runs show` and its JSON.
    runs = cli(project, "runs", "list", "--json").json()
    latest = runs[0] if isinstance(runs, list) else runs["runs"][0]
    shown = cli(project, "runs", "show", latest["run_id"]).stdout
    assert '"label":"big run"' in shown and '"limit":5' in shown
    assert "big run" in cli(project, "runs", "show", latest["run_id"], "--json").stdout


def test_a_bad_value_is_refused_before_anything_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    bad = run_cli("-p", str(project), "materialize", "numbers", "--config", "limit=many")
    assert bad.code == 2, bad.stdout + bad.stderr
    assert "numbers" in bad.stderr and "limit" in bad.stderr
    unknown = run_cli("-p", str(project), "materialize", "numbers", "--config",
                      "total.limit=1")
    assert unknown.code == 2 and "total" in unknown.stderr
    ambiguous = run_cli("-p", str(project), "materialize", "*", "--partition", "2025-01-02",
                        "--config", "limit=1")
    assert ambiguous.code == 2 and "ASSET.limit" in ambiguous.stderr
    assert seen(project) == []
    listed = cli(project, "runs", "list", "--json").json()
    assert (listed if isinstance(listed, list) else listed["runs"]) == []


def test_config_file_and_asset_prefixed_keys(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (tmp_path / "run.toml").write_text('[numbers]\nlimit = 4\nlabel = "file"\n\n'
                                       '[daily]\ndays = 30\n')
    cli(project, "materialize", "numbers", "daily", "--partition", "2025-01-02",
        "--config-file", str(tmp_path / "run.toml"), "--config", "numbers.label=flag")
    got = {row["asset"]: row["config"] for row in seen(project)}
    assert got == {"numbers": {"limit": 4, "label": "flag"}, "daily": {"days": 30}}


def test_backfill_takes_config(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    cli(project, "backfill", "daily", "--from", "2025-01-01", "--to", "2025-01-03",
        "--config", "days=2")
    assert sorted((r["partition"], r["config"]["days"]) for r in seen(project)) == [
        ("2025-01-01", 2), ("2025-01-02", 2), ("2025-01-03", 2)]
    bad = run_cli("-p", str(project), "backfill", "daily", "--from", "2025-01-04", "--to",
                  "2025-01-05", "--config", "days=soon")
    assert bad.code == 2 and "daily" in bad.stderr and "days" in bad.stderr


@pytest.mark.parametrize("start_method", ["spawn"])
def test_config_reaches_spawned_workers(tmp_path: Path, start_method: str) -> None:
    project = make_project(tmp_path, start_method)
    cli(project, "materialize", "numbers+", "--config", "limit=2", "--config", "label=spawned")
    assert seen(project)[-1]["config"] == {"limit": 2, "label": "spawned"}


def test_a_schedules_config_reaches_its_run(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    tick = cli(project, "tick", "--now", "2025-01-16T02:05:00Z", "--json")
    launched = [a for a in tick.json()["actions"] if a["outcome"] == "launched"]
    assert len(launched) == 1, tick.stdout
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not seen(project):
        time.sleep(0.2)
    assert seen(project) == [{"asset": "numbers", "partition": None,
                              "config": {"limit": 9, "label": "from-schedule"}}]

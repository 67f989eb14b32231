"""The README's set-up command, then its tour, in order: each step does what the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.cli_runner import REPO, copy_example, run_cli

README = (REPO / "README.md").read_text()


def _setup_args() -> list[str]:
    line = next(ln for ln in README.splitlines() if ".venv/bin/flowstone -p example_project" in ln)
    return shlex.split(line.split(".venv/bin/flowstone", 1)[1])


def _tour() -> list[list[str]]:
    block = README.split("## A five-minute tour", 1)[1].split("```console", 1)[1]
    block = block.split("```", 1)[0]
    return [shlex.split(ln[len("$ flowstone"):]) for ln in block.splitlines()
            if ln.startswith("$ flowstone")]


def _in(project: Path, args: list[str]) -> list[str]:
    assert args[:2] == ["-p", "example_project"], args
    return ["-p", str(project), *args[2:]]


def test_the_readme_tour_works_in_its_own_order(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    setup = run_cli(*_in(project, _setup_args()), timeout=900)
    assert setup.code == 0, setup.stderr
    tour = _tour()
    commands = [" ".join(args[2:4]) for args in tour]
    assert commands == ["check", "list", "graph --format", "plan +daily_report",
                        "materialize +daily_report", "materialize +daily_report",
                        "backfill +daily_report", "partitions status", "runs list"]
    results = [run_cli(*_in(project, args), timeout=900) for args in tour]
    for args, result in zip(tour, results, strict=True):
        assert result.code == 0, (args, result.stdout, result.stderr)
    check, listed, graph, plan, first, second, backfill, status, runs = results
    assert "daily_report" in listed.stdout and "-->" in graph.stdout
    # plan: the tour's partition was not built by the set-up, so every step will run.
    plan_rows = [ln for ln in plan.stdout.splitlines() if "[2025-02-03]" in ln]
    assert plan_rows and all(re.search(r"\brun\b", ln) for ln in plan_rows), plan.stdout
    # "The first materialize really runs every step of 2025-02-03" (the unpartitioned
    # user_profiles was built by the set-up and is up to date).
    ran = [ln for ln in first.stdout.splitlines() if "[2025-02-03] succeeded in" in ln]
    assert len(ran) == 4, first.stdout
    assert re.search(r"succeeded: 4 succeeded, 1 up to date in", first.stdout), first.stdout
    # "The second materialize finds everything up to date."
    assert re.search(r"succeeded: \d+ up to date in", second.stdout), second.stdout
    assert "succeeded in" not in second.stdout.replace("succeeded: ", "")
    # The backfill of February's first week runs six days and skips the one already built.
    assert "6 partition(s) with 4 succeeded" in backfill.stdout, backfill.stdout
    assert re.search(r"1 partition\(s\) with 4 up_to_date: 2025-02-03$", backfill.stdout, re.M)
    materialized = next(ln for ln in status.stdout.splitlines() if "materialized:" in ln)
    assert re.search(r"materialized:\s+38\b", materialized), status.stdout  # 31 + 7 days
    assert len([ln for ln in runs.stdout.splitlines() if re.search(r"\d{8}-\d{6}", ln)]) >= 4
    del check

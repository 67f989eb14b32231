"""`RateLimited` re-queues a step without holding a worker or using an attempt, and
`context.rate_limit` shares `[limits.*]` across every worker of every run."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

from tests.cli_runner import flowstone_executable, run_cli

REQUEUED = """\
import time
from pathlib import Path
from flowstone_cli import RateLimited, asset

HERE = Path(__file__).resolve().parents[1]

def _mark(name):
    with open(HERE / "starts.log", "a") as log:
        log.write(f"{name} {time.time()}\\n")

@asset
def limited(context):
    _mark("limited")
    tries = HERE / "tries"
    count = int(tries.read_text()) if tries.exists() else 0
    tries.write_text(str(count + 1))
    if count < 2:
        raise RateLimited("quota used up", retry_after=0.5)
    return count

@asset
def independent(context):
    _mark("independent")
    return 1

@asset
def hopeless(context):
    raise RateLimited("never allowed", retry_after=0)
"""


def make_project(root: Path, assets: str, extra: str = "") -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text('[project]\nname = "limits"\n' + extra,
                                         encoding="utf-8")
    (root / "assets" / "work.py").write_text(assets, encoding="utf-8")
    return root


def test_a_rate_limited_step_is_requeued_without_holding_the_worker(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", REQUEUED)
    ran = run_cli("materialize", "limited", "independent", "--workers", "1", "--json",
                  cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    starts = [line.split()[0] for line in (project / "starts.log").read_text().splitlines()]
    assert starts.count("limited") == 3
    # The only worker ran the other step while `limited` waited out its delay.
    assert starts.index("independent") < len(starts) - 1
    shown = run_cli("runs", "show", ran.json()["run_id"], "--json", cwd=project)
    steps = [s for s in shown.json()["steps"] if s["asset"] == "limited"]
    assert [(s["attempt"], s["status"]) for s in steps] == [(1, "succeeded")]
    logs = run_cli("runs", "logs", ran.json()["run_id"], cwd=project)
    assert "rate limited; re-queued in 0.5s" in logs.stdout


def test_requeues_are_bounded_and_then_fail_with_a_clear_message(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", REQUEUED)
    ran = run_cli("materialize", "hopeless", "--workers", "1", cwd=project)
    assert ran.code == 1
    assert "never allowed: still rate limited after 100 re-queues" in ran.stdout + ran.stderr


LIMITED_CALLS = """\
import time
from pathlib import Path
from flowstone_cli import StaticPartitions, asset

HERE = Path(__file__).resolve().parents[1]

def _call(context, name):
    context.rate_limit("api")
    with open(HERE / f"calls-{name}.log", "a") as log:
        log.write(f"{time.time()}\\n")
    return context.partition

@asset
def warmup(context):
    return 0

@asset(partitions=StaticPartitions([f"a{i}" for i in range(40)]))
def calls_a(context):
    return _call(context, "a")

@asset(partitions=StaticPartitions([f"b{i}" for i in range(40)]))
def calls_b(context):
    return _call(context, "b")
"""

RATE, BURST = 20, 2


def test_context_rate_limit_is_shared_by_concurrent_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", LIMITED_CALLS,
                           f'\n[limits.api]\nrate = "{RATE}/second"\nburst = {BURST}\n')
    # Two first runs racing to create the metadata file is another matter: create it first.
    assert run_cli("materialize", "warmup", cwd=project).code == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    runs = [subprocess.Popen([*flowstone_executable(), "backfill", name, "--all", "--workers",
                              "3", "--json"], cwd=project, env=environ, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for name in ("calls_a", "calls_b")]
    outputs = [proc.communicate(timeout=600) for proc in runs]
    for proc, (out, err) in zip(runs, outputs):
        assert proc.returncode == 0, out + err
    times = sorted(float(t) for name in ("a", "b")
                   for t in (project / f"calls-{name}.log").read_text().split())
    assert len(times) == 80
    # GCRA admits at most rate x 1 s + burst calls in any one-second window; a call is logged a
    # moment after it was admitted, which can only move it later (a little slack for that).
    per_second = Counter(int(t) for t in times)
    assert max(per_second.values()) <= RATE + BURST + 2, per_second
    run_id = json.loads(outputs[0][0])["run_id"]
    shown = run_cli("runs", "show", run_id, cwd=project)
    assert "limit api: used 40 times" in shown.stdout

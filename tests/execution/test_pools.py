"""Pools: `@asset(pool=...)` with `[pools]` limits how many steps run at once on the machine,
within a run and across concurrent runs, and a killed run leaves no slot behind."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from flowstone_cli.resources.slots import SlotGroup
from tests.cli_runner import flowstone_executable, run_cli

ASSETS = """\
import os, time
from pathlib import Path
from flowstone_cli import StaticPartitions, asset

LOG = Path(__file__).resolve().parents[1] / "intervals"
HOLD = Path(__file__).resolve().parents[1] / "hold"

def _work(name, partition):
    LOG.mkdir(exist_ok=True)
    start = time.time()
    while HOLD.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    (LOG / f"{name}-{partition}").write_text(f"{start} {time.time()}")
    return partition

@asset(partitions=StaticPartitions([f"a{i}" for i in range(10)]), pool="gpu")
def pooled_a(context):
    return _work("a", context.partition)

@asset(partitions=StaticPartitions([f"b{i}" for i in range(10)]), pool="gpu")
def pooled_b(context):
    return _work("b", context.partition)

@asset(partitions=StaticPartitions([f"f{i}" for i in range(6)]))
def free(context):
    return _work("f", context.partition)
"""


def make_project(root: Path, size: int = 2) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text(f'[project]\nname = "pools"\n\n[pools]\ngpu = {size}\n',
                                         encoding="utf-8")
    (root / "assets" / "work.py").write_text(ASSETS, encoding="utf-8")
    return root


def intervals(project: Path, prefix: str = "") -> list[tuple[float, float]]:
    found = []
    for path in (project / "intervals").glob(f"{prefix}*"):
        start, end = path.read_text().split()
        found.append((float(start), float(end)))
    return found


def max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                   key=lambda edge: (edge[0], edge[1]))
    current = peak = 0
    for _, delta in edges:
        current += delta
        peak = max(peak, current)
    return peak


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    return subprocess.Popen([*flowstone_executable(), *args], cwd=project, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_a_pool_limits_steps_within_a_run_while_other_steps_go_on(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    ran = run_cli("backfill", "pooled_a", "free", "--all", "--workers", "4", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr
    assert len(intervals(project, "a-")) == 10
    assert max_overlap(intervals(project, "a-")) <= 2
    # Steps outside the pool were not held back by it: they ran alongside pooled ones.
    assert max_overlap(intervals(project)) > 2


def test_concurrent_runs_share_the_pool(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    # Two first runs racing to create the metadata file is another matter: create it first.
    assert run_cli("backfill", "free", "--all", cwd=project).code == 0
    first = _start(project, "backfill", "pooled_a", "--all", "--workers", "4")
    second = _start(project, "backfill", "pooled_b", "--all", "--workers", "4")
    for proc in (first, second):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, out + err
    spans = intervals(project, "a-") + intervals(project, "b-")
    assert len(spans) == 20
    assert max_overlap(spans) <= 2


def test_a_killed_run_leaves_no_orphaned_slot(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "hold").write_text("")
    proc = _start(project, "backfill", "pooled_a", "--all", "--workers", "2")
    slots = SlotGroup(project / ".flowstone" / "pools" / "gpu", 2)
    try:
        deadline = time.monotonic() + 120
        while slots.in_use() < 2:                  # the run holds both slots
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never took its pool slots"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)          # the coordinator dies, no clean-up
        proc.wait(timeout=60)
        assert slots.in_use() == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)    # its orphaned workers
        except ProcessLookupError:
            pass
        proc.communicate(timeout=60)
    (project / "hold").unlink()
    ran = run_cli("backfill", "pooled_a", "--all", "--workers", "4", cwd=project)
    assert ran.code == 0, ran.stdout + ran.stderr


def test_an_unknown_pool_is_a_check_error_with_location_and_suggestion(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "flowstone.toml").write_text('[project]\nname = "pools"\n\n[pools]\ngpus = 2\n',
                                            encoding="utf-8")
    checked = run_cli("check", cwd=project)
    assert checked.code == 2
    output = checked.stdout + checked.stderr
    assert "pool `gpu`, which is not configured (did you mean `gpus`?)" in output
    assert "work.py:" in output


def test_pool_sizes_and_limits_are_validated_at_load(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "flowstone.toml").write_text(textwrap.dedent("""\
        [project]
        name = "pools"

        [pools]
        gpu = 0

        [limits.api]
        rate = "lots"
        """), encoding="utf-8")
    checked = run_cli("check", cwd=project)
    assert checked.code == 2
    output = checked.stdout + checked.stderr
    assert "pool `gpu` must allow at least 1 step" in output
    assert "flowstone.toml:8" in output and "'lots' is not a rate" in output

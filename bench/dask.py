"""The Dask executor against the process executor, and how fast one coordinator records.

Usage: python bench/dask.py [--rounds N] [--record-steps N]
1. 1,000 no-op assets (bench/projects.py): `materialize '*'` with `--executor process
   --workers 2` (the floor) and `--executor dask --workers 2` (a LocalCluster of 2 worker
   processes), alternately, fresh project each time. Reports the whole command and the run
   itself (the summary's duration: from the first step submitted to the run closed, so the
   cluster's start-up is excluded), and the Dask executor's overhead per step over the floor.
2. The same for a 365-day x 3-asset daily backfill (1,095 steps).
3. The coordinator alone: a plan of N no-op steps whose "workers" return instantly (an
   in-process executor that answers every task at once with a succeeded result), so the time
   is planning-free coordination plus recording in the DuckDB store: steps recorded per second.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent
# This file is named like the `dask` package: keep its folder off the import path, or
# `import dask` (in the executor, in worker processes) would import this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHAIN, project = _load("backfill").CHAIN, _load("backfill").project
generate_project = _load("projects").generate_project

WORK = Path(__file__).resolve().parent / "_work"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))


def run(command: list[str]) -> tuple[float, float, int]:
    """Whole-command seconds, the run's own seconds, and the number of steps that ran."""
    start = time.perf_counter()
    proc = subprocess.run(command + ["--json"], capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout)
    return took, float(summary["duration_s"]), int(summary["counts"].get("succeeded", 0))


def compare(name: str, make: callable, args: list[str], rounds: int) -> list[tuple]:
    best: dict[str, tuple[float, float, int]] = {}
    for _ in range(rounds):
        for executor in ("process", "dask"):  # alternate, so load changes hit both alike
            root = make()
            got = run([FLOWSTONE, "-p", str(root), *args, "--executor", executor,
                       "--workers", "2"])
            if executor not in best or got[1] < best[executor][1]:
                best[executor] = got
    rows = []
    for executor in ("process", "dask"):
        whole, inner, steps = best[executor]
        rows.append((name, executor, steps, whole, inner, inner / steps * 1000))
    overhead = (best["dask"][1] - best["process"][1]) / best["dask"][2] * 1000
    rows.append((name, "dask - process", best["dask"][2], None, None, overhead))
    return rows


class InstantExecutor:
    """Workers that return at once: every submitted task succeeds immediately."""

    capacity = 64

    def __init__(self) -> None:
        self._done: list = []

    def submit(self, task, *, timeout=None) -> None:
        from flowstone_cli.execution.tasks import ResultStatus, StepResult

        now = time.time()
        self._done.append(StepResult(
            step_id=task.step_id, status=ResultStatus.SUCCEEDED, started_at=now, ended_at=now,
            pid=os.getpid(), host="bench", uri=f"memory://{task.asset}/{task.partition}",
            io_manager="pickle", size_bytes=10, data_version="0" * 64,
            worker="tcp://127.0.0.1:1"))

    def wait(self, timeout=None) -> list:
        done, self._done = self._done, []
        return done

    def cancel_all(self) -> list:
        return self.wait()

    def shutdown(self) -> None:
        return None


def recording_rate(days: int) -> tuple[int, float]:
    """Steps recorded per second by one coordinator whose workers answer instantly."""
    import flowstone_cli.api.materialize as materialize_api
    from flowstone_cli.api.materialize import MaterializeOptions, materialize
    from flowstone_cli.planning.partition_selection import PartitionRequest
    from flowstone_cli.project.loader import load_project

    chain = CHAIN.replace('end="2025-01-01"', 'end="2099-01-01"')
    root = project("dask_recording", chain)
    loaded = load_project(root, {})
    materialize_api._executor = lambda *args, **kwargs: InstantExecutor()  # bench only
    end = (date(2024, 1, 1) + timedelta(days=days - 1)).isoformat()
    options = MaterializeOptions(selection=["*"], partitions=PartitionRequest(
        start="2024-01-01", end=end))
    summary = materialize(loaded, options)
    steps = summary.counts.get("succeeded", 0)
    return steps, steps / summary.duration_s


def _noop(value: int) -> int:
    return value


def dask_floor(tasks: int = 1000) -> float:
    """Milliseconds per task of bare Dask on the same kind of cluster the executor starts
    (2 single-threaded worker processes, the same scheduler settings and submission window):
    what any Dask-based executor pays on this machine, whatever it does around the task."""
    from flowstone_cli.execution.executors.dask import QUEUE_PER_THREAD, start_client
    from distributed import as_completed

    client, cluster = start_client(None, 2)
    try:
        window = 2 * 2 * QUEUE_PER_THREAD
        completed = as_completed([], with_results=True, loop=client.loop)
        start = time.perf_counter()
        submitted = finished = 0
        while finished < tasks:
            while submitted - finished < window and submitted < tasks:
                completed.add(client.submit(_noop, submitted, pure=False))
                submitted += 1
            for future, _ in completed.next_batch(block=True):
                future.release()
                finished += 1
        return (time.perf_counter() - start) / tasks * 1000
    finally:
        client.close()
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--record-days", type=int, default=3334, help="x 3 assets = steps")
    args = parser.parse_args()
    rows = compare("1,000 no-op assets", lambda: generate_project(WORK / "dask_1000", 1000),
                   ["materialize", "*"], args.rounds)
    rows += compare("backfill 365 days x 3 assets",
                    lambda: project("dask_backfill", CHAIN),
                    ["backfill", "*", "--from", "2024-01-01", "--to", "2024-12-30"],
                    args.rounds)
    print(f"{'benchmark':<30} | {'executor':<14} | {'steps':>6} | {'command s':>9} | "
          f"{'run s':>7} | {'ms/step':>7}")
    print("-" * 90)
    for name, executor, steps, whole, inner, per in rows:
        print(f"{name:<30} | {executor:<14} | {steps:>6} | "
              f"{'' if whole is None else f'{whole:9.2f}':>9} | "
              f"{'' if inner is None else f'{inner:7.2f}':>7} | {per:7.2f}")
    print(f"\nbare Dask floor on the same LocalCluster (no-op tasks, same window): "
          f"{dask_floor():.2f} ms/task")
    steps, rate = recording_rate(args.record_days)
    print(f"\ncoordinator with instantly-returning workers: {steps} steps recorded at "
          f"{rate:,.0f} steps/s ({1000 / rate:.3f} ms/step); target >= 2,000 steps/s")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()

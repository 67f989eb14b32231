"""Benchmark of the speed limits the test suite used to assert (issue 12: tests assert behaviour).

Usage: python bench/timing_limits.py [--repeat 5]
Prints, for each measurement, the best of `repeat` runs next to its target, and a floor: the
same loop doing nothing, measured alternately with it so that machine load hits both alike.

- cron validation, per expression (target 5 ms);
- `due_ticks` over a month-old every-minute backlog, counted not listed (target 0.5 s);
- 2,000 tiny tasks through a 2-worker `WorkerPool`, per task (target 1 ms);
- two 0.5 s tasks on a 2-worker pool, wall time (target 0.9 s: they run side by side).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flowstone_cli.execution.pool import WorkerPool
from flowstone_cli.timing.cron import due_ticks, validate_cron

EXPRESSIONS = ["0 2 * * *", "*/5 * * * *", "0 0 31 2 *", "15,45 9-17 * * mon-fri"] * 25


def _task(payload: tuple[str, object]) -> object:
    kind, value = payload
    if kind == "sleep":
        time.sleep(float(value))  # type: ignore[arg-type]
    return value


def validate_many() -> float:
    for expression in EXPRESSIONS:
        validate_cron(expression)
    return len(EXPRESSIONS)


def month_backlog() -> float:
    due_ticks("* * * * *", "Europe/Berlin", catch_up="all",
              last_tick=datetime(2025, 3, 1, 12, tzinfo=UTC),
              now=datetime(2025, 3, 31, 12, tzinfo=UTC))
    return 1


def tiny_tasks() -> float:
    with WorkerPool(_task, workers=2) as pool:
        for i in range(2000):
            pool.submit(str(i), ("echo", i))
        while pool.pending:
            pool.wait(timeout=60)
    return 2000


def two_sleeps() -> float:
    with WorkerPool(_task, workers=2) as pool:
        pool.submit("a", ("sleep", 0.5))
        pool.submit("b", ("sleep", 0.5))
        while pool.pending:
            pool.wait(timeout=60)
    return 1


def nothing() -> float:
    return 1


def best(work: Callable[[], float], repeat: int) -> tuple[float, float]:
    """Best time per unit of `work` and of the empty floor, measured alternately."""
    times, floors = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        units = work()
        times.append((time.perf_counter() - start) / units)
        start = time.perf_counter()
        nothing()
        floors.append(time.perf_counter() - start)
    return min(times), min(floors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    rows = [("cron validation, per expression", validate_many, 0.005),
            ("month-old every-minute backlog", month_backlog, 0.5),
            ("tiny pool task, per task", tiny_tasks, 0.001),
            ("two 0.5 s tasks on 2 workers", two_sleeps, 0.9)]
    print(f"{'benchmark':<34} {'best':>10} {'floor':>10} {'target':>8}  ok")
    for name, work, target in rows:
        measured, floor = best(work, repeat)
        print(f"{name:<34} {measured:>9.5f}s {floor:>9.6f}s {target:>7.3f}s  "
              f"{'yes' if measured <= target else 'NO'}")


if __name__ == "__main__":
    main()

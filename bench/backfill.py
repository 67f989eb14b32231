"""Benchmarks of partitioned work: a 365-day backfill, and planning 100,000 steps.

Usage: python bench/backfill.py
1. A 3-asset no-op chain partitioned daily: `backfill '*' --from 2024-01-01 --to 2024-12-30`
   (365 partitions x 3 = 1,095 steps) with the process executor, whole command, fresh project.
2. 100 daily no-op assets (layered, 10 wide) over 1,000 days: `plan '*' --partitions ...`
   (100,000 steps), whole command including printing the plan.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))

CHAIN = '''from flowstone_cli import DailyPartitions, asset

DAILY = DailyPartitions(start="2024-01-01", end="2025-01-01")


@asset(partitions=DAILY)
def a(context):
    return context.partition


@asset(partitions=DAILY)
def b(a):
    return a


@asset(partitions=DAILY)
def c(b):
    return b
'''


def project(name: str, assets: str) -> Path:
    root = WORK / name
    if root.exists():
        shutil.rmtree(root)
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text(f'[project]\nname = "{name}"\n')
    (root / "assets" / "pipeline.py").write_text(assets)
    subprocess.run([FLOWSTONE, "-p", str(root), "check"], check=True, capture_output=True)
    return root


def layered(count: int) -> str:
    lines = ["from flowstone_cli import DailyPartitions, asset", "",
             'DAILY = DailyPartitions(start="2020-01-01", end="2025-01-01")', ""]
    for i in range(count):
        layer = i // 10
        params = [] if layer == 0 else sorted({f"a{(layer - 1) * 10 + (i * 7) % 10}",
                                               f"a{(layer - 1) * 10 + (i * 3) % 10}"})
        lines += ["@asset(partitions=DAILY)", f"def a{i}({', '.join(params)}):",
                  f"    return {i}", "", ""]
    return "\n".join(lines)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return took


def main() -> None:
    chain = project("backfill_chain", CHAIN)
    fresh = timed([FLOWSTONE, "-p", str(chain), "backfill", "*", "--from", "2024-01-01", "--to",
                   "2024-12-30", "--executor", "process"])
    again = timed([FLOWSTONE, "-p", str(chain), "backfill", "*", "--from", "2024-01-01", "--to",
                   "2024-12-30", "--executor", "process"])
    wide = project("plan_100k", layered(100))
    plan = timed([FLOWSTONE, "-p", str(wide), "plan", "*", "--partitions",
                  "2022-01-01..2024-09-26"])
    print(f"{'benchmark':<58} | {'seconds':>8} | target")
    print("-" * 80)
    print(f"{'backfill 365 days x 3 assets (1,095 steps), process':<58} | {fresh:>8.2f} | <= 10 s")
    print(f"{'same backfill again (all up to date)':<58} | {again:>8.2f} |")
    print(f"{'plan 100 assets x 1,000 days (100,000 steps)':<58} | {plan:>8.2f} | <= 5 s")


if __name__ == "__main__":
    main()

"""Benchmark of `flowstone tick` with 100 schedules and 100 sensors, none of them due.

Usage: python bench/tick.py
The first tick evaluates every sensor (and records every schedule); the timed ticks come after,
when no schedule fire time and no sensor interval is due. Whole command, best of 5.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work" / "tick_200"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))


def main() -> None:
    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "assets").mkdir(parents=True)
    (WORK / "flowstone.toml").write_text('[project]\nname = "tick_bench"\n')
    lines = ["from flowstone_cli import asset, schedule, sensor", "", "@asset",
             "def target():", "    return 1", ""]
    for i in range(100):
        lines.append(f's{i} = schedule(name="s{i}", cron="{i % 60} 3 1 1 *", target="target")')
    for i in range(100):
        lines += [f'@sensor(target="target", interval="1h", name="sensor_{i}")',
                  f"def sensor_{i}(context):", "    return None", ""]
    (WORK / "assets" / "automation.py").write_text("\n".join(lines) + "\n")
    now = "2025-06-01T12:00:00Z"
    subprocess.run([FLOWSTONE, "-p", str(WORK), "tick", "--now", now], check=True,
                   capture_output=True)
    times = []
    for minute in range(1, 6):
        start = time.perf_counter()
        proc = subprocess.run([FLOWSTONE, "-p", str(WORK), "tick", "--now",
                               f"2025-06-01T12:{minute:02d}:00Z", "--json"],
                              capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        assert '"launched": 0' in proc.stdout, proc.stdout
    print(f"{'benchmark':<52} | {'seconds':>8} | target")
    print("-" * 74)
    print(f"{'tick, 100 schedules + 100 sensors, none due':<52} | {min(times):>8.2f} | <= 1 s")


if __name__ == "__main__":
    main()

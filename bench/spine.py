"""Benchmark of the read-only CLI: `--help`, `list` and `plan '*'` on generated projects.

Usage: python bench/spine.py [--sizes 10,100,1000,10000] [--repeat 3]
Prints a table of the best wall-clock time of each command, whole process, in seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from projects import generate_project  # noqa: E402 - bench scripts run from anywhere

WORK = Path(__file__).resolve().parent / "_work"
FLOWSTONE = [str(Path(sys.executable).with_name("flowstone"))]


def best_of(command: list[str], repeat: int) -> float:
    """Best wall-clock time of `repeat` runs (the first run also warms bytecode caches)."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr}")
    return min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"flowstone --help: {best_of([*FLOWSTONE, '--help'], args.repeat):.3f} s")
    print()
    print(f"{'assets':>7} | {'list':>8} | {'list --json':>11} | {'plan *':>8}")
    print("-" * 44)
    for size in sizes:
        project = generate_project(WORK / f"spine_{size}", size)
        base = [*FLOWSTONE, "-p", str(project)]
        listed = best_of([*base, "list"], args.repeat)
        listed_json = best_of([*base, "list", "--json"], args.repeat)
        planned = best_of([*base, "plan", "*"], args.repeat)
        print(f"{size:>7} | {listed:>8.3f} | {listed_json:>11.3f} | {planned:>8.3f}")


if __name__ == "__main__":
    main()

"""Benchmark of `flowstone materialize` on generated no-op projects.

Usage: python bench/materialize.py [--sizes 1000,10000] [--executors inline,process]
Times the whole command (a fresh project each time, so every step runs) and the coordinator's
peak RSS (children excluded), and prints a table.
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
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))


def run_once(project: Path, executor: str, extra: list[str]) -> tuple[float, float]:
    """Wall time of one `materialize '*'` and the coordinator's peak RSS in MB."""
    code = ("import resource, sys\n"
            "from flowstone_cli.cli.main import main\n"
            f"rc = main(['-p', {str(project)!r}, 'materialize', '*', '--executor', "
            f"{executor!r}, *{extra!r}])\n"
            "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(rc)\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"materialize failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    rss = next(int(line.split()[1]) for line in proc.stderr.splitlines()
               if line.startswith("RSS "))
    return took, rss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--executors", default="inline,process")
    args = parser.parse_args()
    print(f"{'assets':>7} | {'executor':>8} | {'fresh run (s)':>13} | {'all up to date (s)':>18} "
          f"| {'coordinator RSS (MB)':>20}")
    print("-" * 80)
    for size in (int(s) for s in args.sizes.split(",")):
        for executor in args.executors.split(","):
            project = generate_project(WORK / f"mat_{size}_{executor}", size)
            # Warm the bytecode cache of the generated modules, as any real project has.
            subprocess.run([FLOWSTONE, "-p", str(project), "check"], capture_output=True,
                           check=True)
            fresh, rss = run_once(project, executor, [])
            again, _ = run_once(project, executor, [])
            print(f"{size:>7} | {executor:>8} | {fresh:>13.2f} | {again:>18.2f} | {rss:>20.0f}")


if __name__ == "__main__":
    main()

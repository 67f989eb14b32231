"""Cost of the built-in asset checks relative to storing the value they check.

Builds a 10M-row Arrow table (int64 id, float64 value, string category) and times, alternately
and taking the median of `--repeat` runs:

- store: `ParquetIOManager.store` of the table (what every materialization pays);
- not_null + unique on `id`: the two built-in checks as a step runs them (`run_checks`);
- floor: the same two answers computed with bare pyarrow and numpy (`null_count`, one
  vectorised comparison of neighbours).

Also times `unique` on a shuffled copy of the column (no sorted fast path: a sort).

Target (issue 16): not_null + unique on one column cost at most 20 % of the store time.

Run: `.venv/bin/python bench/checks.py [--rows N] [--repeat K]`.
Files go to `bench/_work/` (git-ignored) and are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from flowstone_cli import not_null, unique
from flowstone_cli.execution.check_runner import run_checks
from flowstone_cli.io import ParquetIOManager, StoreContext

WORK_DIR = Path(__file__).resolve().parent / "_work" / "checks"


def build_table(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    categories = np.array([f"category_{i:05d}" for i in range(5_000)])
    return pa.table({"id": np.arange(rows, dtype=np.int64), "value": rng.random(rows),
                     "category": pa.array(categories[rng.integers(0, len(categories), rows)])})


def _floor(col: pa.ChunkedArray) -> tuple[int, bool]:
    # The least work giving both answers for a sorted int64 id column.
    array = col.combine_chunks().to_numpy()
    return col.null_count, bool((array[1:] > array[:-1]).all())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = build_table(args.rows)
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    manager = ParquetIOManager(str(WORK_DIR))
    checks = (not_null("t", "id"), unique("t", "id"))
    shuffled = pa.table({"id": np.random.default_rng(1).permutation(args.rows)})
    cases = {
        "store (parquet manager)": lambda: manager.store(StoreContext(asset="t"), table),
        "not_null + unique (id)": lambda: run_checks(checks, table, lambda: None),
        "unique (shuffled id)": lambda: run_checks(checks[1:], shuffled, lambda: None),
        "floor: bare pyarrow+numpy": lambda: _floor(table.column("id")),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(v) for name, v in times.items()}
    store = medians["store (parquet manager)"]
    print(f"{args.rows:,} rows, median of {args.repeat}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'case':<28}{'seconds':>10}{'vs store':>10}")
    for name, seconds in medians.items():
        print(f"{name:<28}{seconds:>10.3f}{seconds / store:>9.1%}")
    checks_cost = medians["not_null + unique (id)"] / store
    print(f"checks / store = {checks_cost:.1%} (target <= 20%); checks / floor = "
          f"{medians['not_null + unique (id)'] / medians['floor: bare pyarrow+numpy']:.2f}x")
    shutil.rmtree(WORK_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()

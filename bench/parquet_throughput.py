"""Throughput of the parquet I/O manager against plain pyarrow on the same disk.

Builds a 10M-row Arrow table (int64 id, float64 value, string category with 5,000 distinct
values) and times, median of `--repeat` runs:

- plain: `pq.write_table(table, path)` + `pq.read_table(path)` (no hashing, no fsync);
- manager: `ParquetIOManager.store` + `.load` (temp file, sha256 while writing, fsync, rename,
  directory fsync), both with the manager's default compression;
- one line per compression codec for plain pyarrow, to back the default choice.

Run: `.venv/bin/python bench/parquet_throughput.py [--rows N] [--repeat K]`.
Files go to `bench/_work/` (git-ignored) and are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flowstone_cli.io import ParquetIOManager, StoreContext
from flowstone_cli.io.parquet_manager import COMPRESSIONS, DEFAULT_COMPRESSION

WORK_DIR = Path(__file__).resolve().parent / "_work" / "parquet_throughput"
MANAGER_CASE = f"manager, {DEFAULT_COMPRESSION}"


def build_table(rows: int) -> pa.Table:
    """A table with an int64, a float64 and a moderate-cardinality string column."""
    rng = np.random.default_rng(42)
    categories = np.array([f"category_{i:05d}" for i in range(5_000)])
    return pa.table({
        "id": np.arange(rows, dtype=np.int64),
        "value": rng.random(rows),
        "category": pa.array(categories[rng.integers(0, len(categories), rows)]),
    })


def median_seconds(cases: dict[str, Callable[[], object]], repeat: int,
                   before: Callable[[], None]) -> dict[str, float]:
    """Median wall time of each case; cases take turns so that machine noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, run in cases.items():
            before()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    table = build_table(args.rows)
    plain_path = WORK_DIR / "plain.parquet"
    manager = ParquetIOManager(str(WORK_DIR / "manager"))
    ctx = StoreContext(asset="bench_table")

    sizes: dict[str, float] = {}

    def plain(compression: str) -> Callable[[], object]:
        def run() -> object:
            path = WORK_DIR / f"plain-{compression}.parquet"
            pq.write_table(table, path, compression=compression)
            sizes[f"plain, {compression}"] = os.path.getsize(path) / 1e6
            return pq.read_table(path)
        return run

    def through_manager() -> object:
        stored = manager.store(ctx, table)
        sizes[MANAGER_CASE] = (stored.size_bytes or 0) / 1e6
        return manager.load(ctx)

    def remove_outputs() -> None:
        # Every case writes a new file, as the manager does; overwriting in place costs more.
        for path in WORK_DIR.glob("plain-*.parquet"):
            path.unlink()
        manager.delete(ctx)

    # gzip and brotli are far slower and not candidates for the default.
    cases = {f"plain, {c}": plain(c) for c in COMPRESSIONS if c not in ("gzip", "brotli")}
    cases[MANAGER_CASE] = through_manager
    try:
        results = median_seconds(cases, args.repeat, remove_outputs)
        print(f"{args.rows:,} rows, {table.nbytes / 1e6:.0f} MB in memory, write + read, "
              f"median of {args.repeat}\n")
        print(f"{'case':<30}{'seconds':>9}{'M rows/s':>10}{'file MB':>9}")
        for name, seconds in results.items():
            print(f"{name:<30}{seconds:>9.2f}{args.rows / seconds / 1e6:>10.2f}"
                  f"{sizes[name]:>9.1f}")
        ratio = results[f"plain, {DEFAULT_COMPRESSION}"] / results[MANAGER_CASE]
        print(f"\nmanager throughput / plain pyarrow ({DEFAULT_COMPRESSION}): {ratio:.0%}")
    finally:
        shutil.rmtree(WORK_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()

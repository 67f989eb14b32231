"""Throughput of the postgres I/O manager against plain ADBC COPY of the same Arrow table.

Starts a throwaway PostgreSQL server (as the tests do), builds an Arrow table (int64 id,
float64 value, string category with 5,000 distinct values) and times, taking turns, median of
`--repeat` runs of store + load:

- plain: `cursor.adbc_ingest(table, mode="replace")` + `SELECT *` with `fetch_arrow_table()`
  (one COPY into a fresh table, no hashing, no bookkeeping);
- manager, table: `PostgresIOManager.store` + `.load` of an unpartitioned asset (set-up
  transaction, sha256 of the Arrow IPC stream, TRUNCATE + COPY + bookkeeping in one
  transaction);
- manager, new partition: the same for a daily partition not stored yet (a backfill's case:
  DELETE finds nothing; load filtered by the partition column);
- manager, replace partition: re-materializing a stored 1M-row partition: the DELETE of the
  old million rows is work that plain COPY into a fresh table does not do.

Target: the manager reaches at least 60 % of plain COPY's throughput.
Run: `.venv/bin/python bench/postgres.py [--rows N] [--repeat K]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowstone_cli.io import StoreContext  # noqa: E402
from flowstone_cli.io.postgres import PostgresIOManager  # noqa: E402
from tests.postgres_server import start_server  # noqa: E402

TARGET = 0.60


def build_table(rows: int) -> pa.Table:
    """A table with an int64, a float64 and a moderate-cardinality string column."""
    rng = np.random.default_rng(42)
    categories = np.array([f"category_{i:05d}" for i in range(5_000)])
    return pa.table({
        "id": np.arange(rows, dtype=np.int64),
        "value": rng.random(rows),
        "category": pa.array(categories[rng.integers(0, len(categories), rows)]),
    })


def median_seconds(cases: dict[str, tuple[Callable[[], object], Callable[[], object]]],
                   repeat: int) -> dict[str, float]:
    """Median wall time of each case (`(prepare, run)`, only `run` timed); cases take turns so
    that machine noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, (prepare, run) in cases.items():
            prepare()
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import adbc_driver_postgresql.dbapi as adbc

    table = build_table(args.rows)
    server = start_server()
    try:
        manager = PostgresIOManager("/unused", dsn=server.dsn, schema="bench")
        day = StoreContext("bench_events", partition="2025-01-01",
                           partition_path="2025-01-01")
        whole = StoreContext("bench_table")

        def plain() -> object:
            with adbc.connect(server.dsn) as con, con.cursor() as cur:
                cur.adbc_ingest("bench_plain", table, mode="replace")
                con.commit()
                cur.execute("SELECT * FROM bench_plain")
                loaded = cur.fetch_arrow_table()
            assert loaded.num_rows == args.rows
            return loaded

        def through(ctx: StoreContext) -> Callable[[], object]:
            def run() -> object:
                manager.store(ctx, table)
                loaded = manager.load(ctx)
                assert loaded.num_rows == args.rows
                return loaded
            return run

        def nothing() -> None:
            return None

        def forget(ctx: StoreContext) -> Callable[[], None]:
            return lambda: manager.delete(ctx)

        cases = {"plain ADBC COPY": (nothing, plain),
                 "manager, table": (nothing, through(whole)),
                 "manager, new partition": (forget(day), through(day)),
                 "manager, replace partition": (nothing, through(day))}
        results = median_seconds(cases, args.repeat)
        load = os.getloadavg()
        print(f"{args.rows:,} rows, {table.nbytes / 1e6:.0f} MB in memory, store + load, "
              f"median of {args.repeat}; load average {load[0]:.1f} {load[1]:.1f} "
              f"{load[2]:.1f}\n")
        print(f"{'case':<28}{'seconds':>9}{'M rows/s':>10}{'vs plain':>10}")
        base = results["plain ADBC COPY"]
        for name, seconds in results.items():
            print(f"{name:<28}{seconds:>9.2f}{args.rows / seconds / 1e6:>10.2f}"
                  f"{base / seconds:>10.0%}")
        for name in ("manager, table", "manager, new partition", "manager, replace partition"):
            ratio = base / results[name]
            print(f"{name}: {ratio:.0%} of plain (target >= {TARGET:.0%}): "
                  f"{'met' if ratio >= TARGET else 'NOT met'}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

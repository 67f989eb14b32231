"""A 10-million-row Arrow table passed from one Parquet asset to the next, end to end.

Usage: python bench/parquet_pipeline.py [--rows 10000000]
`copy` receives `big` (loaded by the parquet manager in a worker) and returns it (stored by the
manager). Its recorded step duration (load + store, hashing and fsync included) is compared
with plain `pyarrow.parquet.write_table` + `read_table` of the same table on the same disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

WORK = Path(__file__).resolve().parent / "_work" / "parquet_pipeline"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))

ASSETS = '''
import pyarrow as pa
import pyarrow.compute as pc
from flowstone_cli import asset

ROWS = {rows}


@asset(io_manager="parquet")
def big():
    ids = pa.array(range(ROWS), type=pa.int64())
    return pa.table({{"id": ids, "value": pc.multiply(ids, 0.5),
                     "label": pc.cast(pc.bit_wise_and(ids, 4095), pa.string())}})


@asset(io_manager="parquet")
def copy(big):
    return big
'''


def table(rows: int) -> pa.Table:
    ids = pa.array(range(rows), type=pa.int64())
    return pa.table({"id": ids, "value": pc.multiply(ids, 0.5),
                     "label": pc.cast(pc.bit_wise_and(ids, 4095), pa.string())})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "project" / "assets").mkdir(parents=True)
    project = WORK / "project"
    (project / "flowstone.toml").write_text('[project]\nname = "pq"\n')
    (project / "assets" / "tables.py").write_text(ASSETS.format(rows=args.rows))
    data = table(args.rows)
    plain = []
    for _ in range(args.repeat):
        path = WORK / "plain.parquet"
        start = time.perf_counter()
        pq.write_table(data, path, compression="zstd")
        pq.read_table(path)
        plain.append(time.perf_counter() - start)
    ours = []
    for _ in range(args.repeat):
        proc = subprocess.run([FLOWSTONE, "-p", str(project), "materialize", "*", "--force",
                               "--json"], capture_output=True, text=True, check=True)
        step = next(s for s in json.loads(proc.stdout)["steps"] if s["asset"] == "copy")
        ours.append(step["duration_ms"] / 1000)
    best_plain, best_ours = min(plain), min(ours)
    print(f"rows: {args.rows:,}")
    print(f"{'case':<44} | {'seconds':>8} | {'rows/s':>12}")
    print("-" * 70)
    print(f"{'plain pq.write_table + pq.read_table (zstd)':<44} | {best_plain:>8.2f} | "
          f"{args.rows / best_plain:>12,.0f}")
    print(f"{'FlowStone step: load + store (hash, fsync)':<44} | {best_ours:>8.2f} | "
          f"{args.rows / best_ours:>12,.0f}")
    print(f"throughput ratio (FlowStone / plain): {best_plain / best_ours:.0%}")


if __name__ == "__main__":
    main()

"""Cost of checking a loaded value against its recorded data version (issue 11, item 9).

A consumer's load carries the recorded sha256; `io/verification.py` hashes the file once per
process (then remembers it by device, inode, size and mtime) and checks the path still names the
same file after the read. This compares, alternately, for pickle and Parquet values of several
sizes:

- plain: `load` without a recorded version (the floor);
- cold: `load` with the version, nothing remembered (a consumer in another process);
- warm: `load` with the version, remembered (the producer's process, or a second read).

Run: `.venv/bin/python bench/verified_loads.py`
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flowstone_cli.io import verification  # noqa: E402
from flowstone_cli.io.base import StoreContext  # noqa: E402
from flowstone_cli.io.parquet_manager import ParquetIOManager  # noqa: E402
from flowstone_cli.io.pickle_manager import PickleIOManager  # noqa: E402


def _time(fn, repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    import pyarrow as pa

    root = tempfile.mkdtemp(prefix="flowstone-bench-")
    rows = []
    for label, manager, make in (
            ("pickle", PickleIOManager(root), lambda n: list(range(n))),
            ("parquet", ParquetIOManager(root),
             lambda n: pa.table({"x": list(range(n)), "y": [float(i) for i in range(n)]}))):
        for n in (10_000, 1_000_000):
            ctx = StoreContext(asset=f"{label}_{n}")
            stored = manager.store(ctx, make(n))
            checked = StoreContext(asset=ctx.asset, expected_version=stored.data_version)
            plain = cold = warm = 0.0
            for _ in range(3):  # alternate so load changes hit every variant alike
                plain += _time(lambda: manager.load(ctx))
                verification._known.clear()
                cold += _time(lambda: (verification._known.clear(), manager.load(checked)))
                manager.load(checked)
                warm += _time(lambda: manager.load(checked))
            size = stored.size_bytes or 0
            rows.append((label, n, size, plain / 3, cold / 3, warm / 3))
    print(f"{'format':8} {'rows':>9} {'MB':>7} {'plain ms':>9} {'cold ms':>9} {'warm ms':>9} "
          f"{'cold/plain':>10}")
    for label, n, size, plain, cold, warm in rows:
        print(f"{label:8} {n:>9,} {size / 1e6:>7.2f} {plain * 1e3:>9.2f} {cold * 1e3:>9.2f} "
              f"{warm * 1e3:>9.2f} {cold / plain:>10.2f}")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

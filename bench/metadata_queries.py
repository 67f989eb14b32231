"""Benchmark of the metadata store's queries on a large seeded store.

Seeds 1,000 assets x 500 partitions x 2 runs = 1,000,000 step rows (the second run re-materializes
everything; one step in ten of it failed) and 3,000,000 lineage rows (each step read the same
partition of three upstream assets), then times the queries the planner and the CLI use.

    .venv/bin/python bench/metadata_queries.py [--dir DIR] [--repeat N]

The file is built with DuckDB's `range()` in a few seconds; the store's own API is then used for
every timed query.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from flowstone_cli.metadata import MetadataStore, StepRecord, StepStatus, new_id, new_run_id, utcnow

ASSETS = 1_000
PARTITIONS = 500
RUNS = 2
UPSTREAMS = 3

# Step id of (run r, asset a, partition p): 16 hex chars, random-looking like `new_id()`.
_STEP_ID = "md5(concat('s', {r}, '-', {a}, '-', {p}))[1:16]"

_SEED_RUNS = """
INSERT INTO runs (run_id, status, "trigger", started_at, ended_at, tags, summary)
SELECT 'run-' || r, 'succeeded', 'cli', TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_days(r::INT),
       TIMESTAMPTZ '2025-01-01 06:00:00+00' + to_days(r::INT), '{}', '{}'
FROM range(?) t(r)
"""
_SEED_STEPS = f"""
INSERT INTO steps
SELECT {_STEP_ID.format(r='r', a='a', p='p')}, 'run-' || r, 'asset_' || lpad(a::VARCHAR, 4, '0'),
       '2025-' || lpad((1 + p // 28)::VARCHAR, 2, '0') || '-' || lpad((1 + p % 28)::VARCHAR, 2, '0')
           || '-' || (p // 336)::VARCHAR,
       1, CASE WHEN r > 0 AND (a + p) % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 'stale',
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_days(r::INT) + to_seconds(a * 10 + p % 7),
       TIMESTAMPTZ '2025-01-01 00:00:01+00' + to_days(r::INT) + to_seconds(a * 10 + p % 7),
       1000.0, 'cv1', md5(concat('d', r, a, p)), 4096, 100,
       'file:///data/asset_' || a || '/' || p || '.parquet', 'parquet', 1234, 'host', NULL, NULL,
       NULL, '{{"rows": 100}}', false
FROM range(?) tr(r), range(?) ta(a), range(?) tp(p)
ORDER BY r, a, p
"""
_SEED_LINEAGE = f"""
INSERT INTO lineage
SELECT {_STEP_ID.format(r='r', a='a', p='p')}, {_STEP_ID.format(r='r', a='a - 1 - u', p='p')},
       'asset_' || lpad((a - 1 - u)::VARCHAR, 4, '0'), NULL, md5(concat('d', r, a - 1 - u, p))
FROM range(?) tr(r), range(?) ta(a), range(?) tp(p), range(?) tu(u)
WHERE a - 1 - u >= 0
ORDER BY r, a, p
"""


def seed(path: Path) -> None:
    """Create the store through the API (schema), then bulk-load it with SQL."""
    store = MetadataStore(path)
    with store.writer():
        pass
    conn = duckdb.connect(str(path))
    try:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(_SEED_RUNS, [RUNS])
        conn.execute(_SEED_STEPS, [RUNS, ASSETS, PARTITIONS])
        # The first three assets have fewer than three upstreams; top up to exactly 3,000,000.
        conn.execute(_SEED_LINEAGE, [RUNS, ASSETS + 2, PARTITIONS, UPSTREAMS])
        conn.execute("COMMIT")
        counts = conn.execute("SELECT (SELECT count(*) FROM steps), "
                              "(SELECT count(*) FROM lineage)").fetchone()
    finally:
        conn.close()
    print(f"seeded {counts[0]:,} steps and {counts[1]:,} lineage rows "
          f"({path.stat().st_size / 1e6:.0f} MB)")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Median and max wall time in ms of `fn()`, and its last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to build the store")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "flowstone.duckdb"
        start = time.perf_counter()
        seed(path)
        print(f"seed time {time.perf_counter() - start:.1f} s\n")
        store = MetadataStore(path)
        one_step = "md5(concat('s', 1, '-', 500, '-', 250))[1:16]"
        with duckdb.connect(str(path), read_only=True) as conn:
            step_id = conn.execute(f"SELECT {one_step}").fetchone()[0]
        ten = [f"asset_{i:04d}" for i in range(100, 1000, 90)]
        rows: list[tuple[str, float, float, str]] = []

        def row(label: str, fn: Callable[[], Any], describe: Callable[[Any], str]) -> None:
            median, worst, result = timed(fn, args.repeat)
            rows.append((label, median, worst, describe(result)))

        def fresh_connect() -> int:
            with store.reader() as reader:
                return len(reader.list_runs(limit=5))

        row("reader(): read-only connect + list_runs + close", fresh_connect, lambda n: f"{n} runs")
        with store.reader() as r:
            row("latest_materializations(10 assets)", lambda: r.latest_materializations(ten),
                lambda d: f"{len(d):,} keys")
            row("latest_attempts(10 assets)", lambda: r.latest_attempts(ten),
                lambda d: f"{len(d):,} keys")
            row("lineage_for_steps([one id])", lambda: r.lineage_for_steps([step_id]),
                lambda d: f"{sum(map(len, d.values()))} rows")
            row("consumers_of([one id])", lambda: r.consumers_of([step_id]),
                lambda d: f"{sum(map(len, d.values()))} rows")
            some = list(r.latest_materializations(ten))[:1]
            ids = [s.step_id for s in r.latest_materializations(ten).values()][:2000]
            row("lineage_for_steps(2,000 ids)", lambda: r.lineage_for_steps(ids),
                lambda d: f"{sum(map(len, d.values())):,} rows")
            row("get_step(id)", lambda: r.get_step(step_id), lambda s: s.asset)
            row("steps_for_run(run-1)  [500,000 steps]", lambda: r.steps_for_run("run-1"),
                lambda s: f"{len(s):,} steps")
            row("latest_materializations(all)", r.latest_materializations,
                lambda d: f"{len(d):,} keys")
            del some
        run_id = new_run_id()

        def write_batch() -> None:
            now = utcnow()
            with store.writer() as w:
                w.insert_steps([StepRecord(new_id(), run_id, "asset_0001", f"k{i}", 1,
                                           StepStatus.SUCCEEDED, started_at=now, ended_at=now,
                                           metadata={"rows": i}) for i in range(100)])

        row("writer(): connect + insert 100 steps + commit + close", write_batch, lambda _: "")

    width = max(len(r[0]) for r in rows)
    print(f"{'query':<{width}}  {'median ms':>9}  {'max ms':>8}  result")
    for label, median, worst, result in rows:
        print(f"{label:<{width}}  {median:9.1f}  {worst:8.1f}  {result}")


if __name__ == "__main__":
    main()

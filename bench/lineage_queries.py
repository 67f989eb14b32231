"""Benchmark of `lineage upstream`, `lineage impact` and `status` on a large metadata store.

Generates a project of 1,000 daily-partitioned assets (`a0` ... `a999`, 500 days each) in a
chain-ish DAG: every asset reads the three assets before it, and the first ones read three
unpartitioned roots (`r0`, `r1`, `r2`). The store is seeded as if every partition had been
materialized twice (two daily runs per partition; the second with the current code, except that
`a500` has since been edited): 1,000,003 step rows and exactly 3,000,000 lineage rows. Then the
real `flowstone` command is timed, whole process, and a table is printed.

    .venv/bin/python bench/lineage_queries.py [--repeat N] [--keep]

The store is built with DuckDB's `range()` in a few seconds; `--keep` reuses it on later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from flowstone_cli.api.project import open_project
from flowstone_cli.metadata import MetadataStore

WORK = Path(__file__).resolve().parent / "_work"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))
ASSETS = 1_000
ROOTS = 3
DAYS = 500  # 2024-01-01 .. 2025-05-14
RUNS = 2
PER_MODULE = 100
EDITED = 500  # the asset whose code changed after the last run
DAY = "2024-09-01"

_HEADER = ("from flowstone_cli import DailyPartitions, asset\n\n"
           "DAILY = DailyPartitions(start=\"2024-01-01\", end=\"2025-05-15\")\n\n")


def upstream_of(index: int) -> list[str]:
    """The three upstream assets of `a{index}`: earlier assets first, then roots."""
    earlier = [f"a{i}" for i in range(max(0, index - 3), index)]
    return earlier + [f"r{k}" for k in range(ROOTS - (3 - len(earlier)), ROOTS)]


def generate_project(root: Path) -> Path:
    """Write the project under `root` (replacing it) and return it."""
    if root.exists():
        shutil.rmtree(root)
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text('[project]\nname = "lineage_bench"\n\n[storage]\n'
                                         'root = "data"\n\n[executor]\ntype = "inline"\n')
    roots = "".join(f"@asset(group=\"roots\")\ndef r{k}():\n    return {k}\n\n\n"
                    for k in range(ROOTS))
    (root / "assets" / "roots.py").write_text("from flowstone_cli import asset\n\n\n" + roots)
    for module in range(ASSETS // PER_MODULE):
        body = "".join(
            f"@asset(partitions=DAILY)\ndef a{i}({', '.join(upstream_of(i))}):\n"
            f"    return {i}\n\n\n"
            for i in range(module * PER_MODULE, (module + 1) * PER_MODULE))
        (root / "assets" / f"chain_{module:02d}.py").write_text(_HEADER + body)
    return root


_STEP_ID = "md5(concat('s', {r}, '-', {a}, '-', {p}))[1:16]"
_KEY = "strftime(DATE '2024-01-01' + {p}::INT, '%Y-%m-%d')"
_ENDED = ("TIMESTAMPTZ '2024-01-02 00:00:00+00' + to_days(({p} + {r} * 520)::INT) "
          "+ to_milliseconds(({a} * 10)::BIGINT)")

_SEED_RUNS = """
INSERT INTO runs (run_id, status, "trigger", selection, command, actor, host, pid,
                  flowstone_version, started_at, ended_at, heartbeat_at, tags, summary)
SELECT 'run-' || r || '-' || p, 'succeeded', 'schedule:daily', '*', 'flowstone tick', 'cron',
       'bench-host', 4242, '0.1.0',
       TIMESTAMPTZ '2024-01-02 00:00:00+00' + to_days((p + r * 520)::INT),
       TIMESTAMPTZ '2024-01-02 00:00:10+00' + to_days((p + r * 520)::INT),
       TIMESTAMPTZ '2024-01-02 00:00:10+00' + to_days((p + r * 520)::INT), '{}', '{}'
FROM range(?) tr(r), range(?) tp(p)
UNION ALL
SELECT 'run-roots', 'succeeded', 'cli', 'group:roots', 'flowstone materialize group:roots',
       'bench', 'bench-host', 4241, '0.1.0', TIMESTAMPTZ '2024-01-01 00:00:00+00',
       TIMESTAMPTZ '2024-01-01 00:00:01+00', TIMESTAMPTZ '2024-01-01 00:00:01+00', '{}', '{}'
"""
_END = _ENDED.format(p="p", r="r", a="a")
_DAY_KEY = _KEY.format(p="p")
_SEED_STEPS = f"""
INSERT INTO steps
SELECT {_STEP_ID.format(r='r', a='a', p='p')}, 'run-' || r || '-' || p, 'a' || a, {_DAY_KEY},
       1, 'succeeded', 'missing', {_END} - INTERVAL 1 SECOND, {_END}, 1000.0,
       CASE WHEN r = 0 THEN 'old' WHEN a = {EDITED} THEN 'before-edit' ELSE cv.code_version END,
       md5(concat('d', a, '-', p)), 4096, 100, '/data/a' || a || '/' || {_DAY_KEY} || '.pkl',
       'pickle', 4242, 'bench-host', NULL, NULL, NULL, '{{}}', false
FROM range(?) tr(r), range(?) ta(a), range(?) tp(p), code_versions cv
WHERE cv.asset = 'a' || a
ORDER BY r, p, a
"""
_SEED_ROOT_STEPS = """
INSERT INTO steps
SELECT 'root-' || cv.asset, 'run-roots', cv.asset, NULL, 1, 'succeeded', 'missing',
       TIMESTAMPTZ '2024-01-01 00:00:00+00', TIMESTAMPTZ '2024-01-01 00:00:01+00', 5.0,
       cv.code_version, md5(cv.asset), 10, NULL, '/data/' || cv.asset || '.pkl', 'pickle', 4241,
       'bench-host', NULL, NULL, NULL, '{}', false
FROM code_versions cv WHERE cv.asset LIKE 'r%'
"""
_SEED_LINEAGE = f"""
INSERT INTO lineage
SELECT {_STEP_ID.format(r='r', a='e.a', p='p')},
       CASE WHEN e.up_index IS NULL THEN 'root-' || e.up_name
            ELSE {_STEP_ID.format(r='r', a='e.up_index', p='p')} END,
       e.up_name, CASE WHEN e.up_index IS NULL THEN NULL ELSE {_KEY.format(p='p')} END,
       CASE WHEN e.up_index IS NULL THEN md5(e.up_name)
            ELSE md5(concat('d', e.up_index, '-', p)) END
FROM range(?) tr(r), range(?) tp(p), edges e
ORDER BY r, p, e.a
"""


def seed(project: Path) -> Path:
    """Create the store through the API (schema), then bulk-load it with SQL."""
    loaded = open_project(project)
    path = loaded.metadata_path
    if path.exists():
        path.unlink()
    with MetadataStore(path).writer():
        pass
    versions = [(name, spec.code_version) for name, spec in loaded.definitions.assets.items()]
    edges = [(i, up, int(up[1:]) if up.startswith("a") else None)
             for i in range(ASSETS) for up in upstream_of(i)]
    conn = duckdb.connect(str(path))
    try:
        conn.execute("SET enable_progress_bar = false")
        conn.execute("BEGIN TRANSACTION")
        conn.execute("CREATE TEMP TABLE code_versions (asset VARCHAR, code_version VARCHAR)")
        conn.executemany("INSERT INTO code_versions VALUES (?, ?)", versions)
        conn.execute("CREATE TEMP TABLE edges (a INTEGER, up_name VARCHAR, up_index INTEGER)")
        conn.executemany("INSERT INTO edges VALUES (?, ?, ?)", edges)
        conn.execute(_SEED_RUNS, [RUNS, DAYS])
        conn.execute(_SEED_STEPS, [RUNS, ASSETS, DAYS])
        conn.execute(_SEED_ROOT_STEPS)
        conn.execute(_SEED_LINEAGE, [RUNS, DAYS])
        conn.execute("COMMIT")
        counts = conn.execute("SELECT (SELECT count(*) FROM steps), "
                              "(SELECT count(*) FROM lineage)").fetchone()
    finally:
        conn.close()
    print(f"seeded {counts[0]:,} steps and {counts[1]:,} lineage rows "
          f"({path.stat().st_size / 1e6:.0f} MB)")
    return path


def bytecode_env() -> dict[str, str]:
    """The environment for timed commands: bytecode caches on (as any installed FlowStone has
    them), kept under bench/_work so the source tree stays clean."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE",) and not k.startswith("FLOWSTONE_")}
    env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    return env


def timed(command: list[str], repeat: int) -> tuple[float, float, float, str]:
    """Median and best wall time (s) and median CPU time (user + sys, s) of `repeat` runs after
    one warm-up, and the last stdout. CPU time shows the cost when other jobs share the VM."""
    walls: list[float] = []
    cpus: list[float] = []
    stdout = ""
    env = bytecode_env()
    for attempt in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        took = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr}")
        if attempt:
            walls.append(took)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        stdout = proc.stdout
    return statistics.median(walls), min(walls), statistics.median(cpus), stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse a store seeded earlier")
    args = parser.parse_args()
    root = WORK / "lineage_1000"
    if not (args.keep and (root / "data" / "flowstone.duckdb").exists()):
        start = time.perf_counter()
        seed(generate_project(root))
        print(f"seed time {time.perf_counter() - start:.1f} s")
    base = [FLOWSTONE, "-p", str(root)]
    key = ["--partition", DAY, "--json"]
    cases = [
        ("lineage upstream a999 (every level, 1,002 deep)",
         ["lineage", "upstream", "a999", *key], lambda d: f"{len(d['entries']):,} entries"),
        ("lineage impact a0 (999 downstream partitions)",
         ["lineage", "impact", "a0", *key], lambda d: f"{d['total']:,} impacted"),
        ("status '*' --partition (1,003 steps)",
         ["status", "*", *key], lambda d: f"{d['checked']:,} checked, {d['stale_count']:,} stale"),
        ("status a500+1 (4 assets x 500 recorded partitions)",
         ["status", "a500+1", "--json"],
         lambda d: f"{d['checked']:,} checked, {d['stale_count']:,} stale"),
        ("lineage upstream a500 --depth 2",
         ["lineage", "upstream", "a500", "--depth", "2", *key],
         lambda d: f"{len(d['entries']):,} entries"),
        ("lineage downstream a990",
         ["lineage", "downstream", "a990", *key],
         lambda d: f"{len(d['recorded']):,} recorded, {len(d['expected']):,} expected"),
        ("list (loads the project, no store; for reference)", ["list", "--json"],
         lambda d: f"{len(d):,} assets"),
    ]
    rows = []
    load = os.getloadavg()[0]
    for label, command, describe in cases:
        median, best, cpu, out = timed([*base, *command], args.repeat)
        rows.append((label, median, best, cpu, describe(json.loads(out))))
    width = max(len(r[0]) for r in rows)
    print(f"\n1-minute load average when the timing started: {load:.2f} (2 cores)")
    print(f"{'command (whole process)':<{width}}  {'median s':>8}  {'best s':>6}  {'cpu s':>5}  "
          "result")
    for label, median, best, cpu, result in rows:
        print(f"{label:<{width}}  {median:8.3f}  {best:6.3f}  {cpu:5.3f}  {result}")


if __name__ == "__main__":
    main()

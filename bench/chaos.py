"""Chaos: concurrent `flowstone` commands on one project, killed at random, then resumed.

Usage: python bench/chaos.py [--seconds 60] [--concurrency 3] [--seed N]

Generates a project in bench/_work/chaos (flat assets on the pickle, json and parquet managers,
daily-partitioned ones for backfills, one flaky asset), then for `--seconds` keeps up to
`--concurrency` commands running: `materialize` (sometimes `--force`), `backfill` over random
date ranges, and `runs resume` of crashed, canceled or failed runs. About half of them are killed
at a random moment, with SIGKILL or SIGINT. Afterwards every unfinished run is resumed and the
invariants are checked and printed:

- the store opens (`flowstone runs list` works; no run is left running, no claim is left);
- every current materialization points at a file that exists, is fully readable and whose
  sha256 is its recorded data version;
- no torn files: temporary files come only from killed writers and `cleanup_temp_files`
  removes every one;
- no asset partition was computed by two runs at the same moment (no two succeeded rows of
  one key overlap in time), so no step was recorded succeeded twice for the same claim;
- every command ended with an expected exit code (no internal error, no lock timeout).
Exits 1 if any invariant is violated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from flowstone_cli.io import cleanup_temp_files
from flowstone_cli.io.publish import TEMP_NAME_PATTERN
from flowstone_cli.metadata import MetadataStore

WORK = Path(__file__).resolve().parent / "_work" / "chaos"
FLOWSTONE = str(Path(sys.executable).with_name("flowstone"))
DAYS = [f"2025-01-{d:02d}" for d in range(1, 13)]
# Exit codes a command may end with: done, a step failed, nothing to resume / refused, Ctrl-C,
# SIGKILL.
EXPECTED_EXITS = {0, 1, 2, 130, -signal.SIGKILL}

FLAT = '''
import hashlib, os, random, time
import pyarrow as pa
from flowstone_cli import RetryPolicy, asset

def _work(name):
    time.sleep(random.uniform(0.02, 0.25))
    return {"name": name, "payload": os.urandom(2048).hex()}
'''
DAILY = '''
import os, random, time
import pyarrow as pa
from flowstone_cli import DailyPartitions, asset

DAYS = DailyPartitions(start="2025-01-01", end="2025-01-13")  # end is exclusive

@asset(partitions=DAYS, group="daily")
def raw_events(context):
    time.sleep(random.uniform(0.05, 0.3))
    return [{"day": context.partition, "v": random.random()} for _ in range(200)]

@asset(partitions=DAYS, group="daily", io_manager="parquet")
def daily_stats(context, raw_events):
    time.sleep(random.uniform(0.05, 0.3))
    return pa.table({"v": [r["v"] for r in raw_events]})

@asset(partitions=DAYS, group="daily", io_manager="json")
def daily_summary(context, daily_stats):
    return {"day": context.partition, "rows": daily_stats.num_rows}
'''


def generate_project(root: Path) -> Path:
    """Write the chaos project (replacing any previous one)."""
    if root.exists():
        shutil.rmtree(root)
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text('[project]\nname = "chaos"\n\n[executor]\nworkers = 2\n')
    managers = ["pickle", "json", "parquet"]
    lines = [FLAT]
    for i in range(24):
        ups = [f"f{j}" for j in (i - 4, i - 3) if j >= 0]
        manager = managers[i % 3]
        body = (f'    return pa.table({{"v": [len(str(_work("f{i}")))]}})' if manager == "parquet"
                else f'    return _work("f{i}")')
        retry = ", retry=RetryPolicy(max_attempts=2, delay=0)" if i == 7 else ""
        lines.append(f'@asset(group="flat", io_manager="{manager}"{retry})\n'
                     f'def f{i}({", ".join(ups)}):\n'
                     + ('    if random.random() < 0.3:\n        raise ValueError("flaky")\n'
                        if i == 7 else "") + body + "\n")
    (root / "assets" / "flat.py").write_text("\n".join(lines))
    (root / "assets" / "daily.py").write_text(DAILY)
    return root


@dataclass
class Stats:
    """What happened during the chaos phase."""

    started: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    exits: Counter[int] = field(default_factory=Counter)
    resumed: int = 0
    startup_interrupts: int = 0
    unexpected: list[str] = field(default_factory=list)


@dataclass
class Command:
    kind: str
    proc: subprocess.Popen[str]
    kill_at: float | None
    how: int
    interrupted: bool = False


def flowstone(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWSTONE, "-p", str(project), *args], capture_output=True,
                          text=True, timeout=300, check=False)


def runs_to_resume(project: Path, done: set[str]) -> list[str]:
    listed = flowstone(project, "runs", "list", "--limit", "1000", "--json")
    if listed.returncode != 0:
        return []
    return [r["run_id"] for r in json.loads(listed.stdout)
            if r["status"] in ("crashed", "canceled", "failed") and r["run_id"] not in done]


def pick_command(rng: random.Random, project: Path, resumed: set[str]) -> tuple[str, list[str]]:
    roll = rng.random()
    if roll < 0.2:
        candidates = runs_to_resume(project, resumed)
        if candidates:
            run_id = rng.choice(candidates)
            resumed.add(run_id)
            return "resume", ["runs", "resume", run_id]
    if roll < 0.55:
        force = ["--force"] if rng.random() < 0.3 else []
        return "materialize", ["materialize", "group:flat", *force]
    if roll < 0.7:
        day = rng.choice(DAYS)
        return "materialize", ["materialize", "group:daily", "--partition", day]
    first = rng.randrange(len(DAYS))
    last = min(len(DAYS) - 1, first + rng.randrange(1, 6))
    return "backfill", ["backfill", "group:daily", "--from", DAYS[first], "--to", DAYS[last]]


def chaos(project: Path, seconds: float, concurrency: int, rng: random.Random) -> Stats:
    stats, running, resumed = Stats(), [], set()
    end = time.monotonic() + seconds
    while time.monotonic() < end or running:
        now = time.monotonic()
        for command in list(running):
            if command.proc.poll() is not None:
                running.remove(command)
                _finished(command, stats)
            elif command.kill_at is not None and now >= command.kill_at:
                command.proc.send_signal(command.how)
                command.interrupted = command.how == signal.SIGINT
                stats.kills["SIGKILL" if command.how == signal.SIGKILL else "SIGINT"] += 1
                command.kill_at = None
        while now < end and len(running) < concurrency:
            kind, args = pick_command(rng, project, resumed)
            stats.started[kind] += 1
            stats.resumed += kind == "resume"
            proc = subprocess.Popen([FLOWSTONE, "-p", str(project), *args],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            kill_at = now + rng.uniform(0.6, 3.0) if rng.random() < 0.6 else None
            how = signal.SIGKILL if rng.random() < 0.65 else signal.SIGINT
            running.append(Command(kind, proc, kill_at, how))
        time.sleep(0.02)
    # Recovery: resume every run that did not finish, oldest first.
    for run_id in reversed(runs_to_resume(project, resumed)):
        resumed.add(run_id)
        result = flowstone(project, "runs", "resume", run_id)
        stats.started["resume"] += 1
        stats.resumed += 1
        if result.returncode not in (0, 1, 2) or "internal error" in result.stderr:
            stats.unexpected.append(f"resume {run_id}: exit {result.returncode}: "
                                    f"{result.stderr[-300:]}")
    return stats


def _finished(command: Command, stats: Stats) -> None:
    out, err = command.proc.communicate()
    code = command.proc.returncode
    stats.exits[code] += 1
    if command.interrupted and (code == -signal.SIGINT or (
            code == 1 and err.rstrip().endswith("\nKeyboardInterrupt"))):
        # Ctrl-C while the interpreter was still starting, before `flowstone` could handle it:
        # nothing was started; the process died of it, or Python printed its own traceback.
        stats.startup_interrupts += 1
        return
    if code not in EXPECTED_EXITS or "internal error" in err or "Traceback" in err:
        stats.unexpected.append(f"{command.kind}: exit {code}: {err[-400:]}")


def readable(path: Path) -> bool:
    try:
        if path.suffix == ".parquet":
            pq.read_table(path)
        elif path.suffix == ".json":
            json.loads(path.read_bytes())
        else:
            pickle.loads(path.read_bytes())  # noqa: S301 - files this script's project wrote
    except Exception:  # noqa: BLE001 - any failure to read is what we are looking for
        return False
    return True


def check(project: Path) -> dict[str, list[str]]:
    """Each invariant -> its violations."""
    found: dict[str, list[str]] = {name: [] for name in (
        "store opens", "materializations match their data", "no torn files",
        "no step computed twice at the same moment")}
    listed = flowstone(project, "runs", "list", "--limit", "100000", "--json")
    if listed.returncode != 0:
        found["store opens"].append(listed.stderr)
        return found
    found["store opens"] += [f"run {r['run_id']} still running"
                             for r in json.loads(listed.stdout) if r["status"] == "running"]
    store = MetadataStore(project / "data" / "flowstone.duckdb")
    with store.reader() as reader:
        latest = reader.latest_materializations()
        claims = reader.claims_on(list(latest))
        steps = [s for r in json.loads(listed.stdout) for s in reader.steps_for_run(r["run_id"])]
    found["store opens"] += [f"claim left on {k}" for k in claims]
    for (asset, partition), record in latest.items():
        path = Path(record.uri or "")
        if not path.exists():
            found["materializations match their data"].append(f"{asset}[{partition}] missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != record.data_version:
            found["materializations match their data"].append(f"{asset}[{partition}] hash")
        elif not readable(path):
            found["no torn files"].append(f"{path} unreadable")
    temps = [p for p in (project / "data").rglob("*") if TEMP_NAME_PATTERN.match(p.name)]
    removed = cleanup_temp_files(str(project / "data"))
    if removed != len(temps):
        found["no torn files"].append(f"{len(temps)} temporary files, {removed} removable")
    for path in (project / "data").rglob("*"):
        if path.is_file() and path.suffix in (".pkl", ".json", ".parquet") and not readable(path):
            found["no torn files"].append(f"{path} unreadable")
    by_key: dict[tuple[str, str | None], list] = {}
    for step in steps:
        if step.status.value == "succeeded":
            by_key.setdefault((step.asset, step.partition), []).append(step)
    for key, done in by_key.items():
        done.sort(key=lambda s: s.started_at)
        for before, after in zip(done, done[1:]):
            if after.started_at < before.ended_at:
                found["no step computed twice at the same moment"].append(
                    f"{key}: runs {before.run_id} and {after.run_id} overlap")
    print(f"  checked {len(latest)} current materializations, {len(steps)} step rows, "
          f"{len(temps)} leftover temporary files (all removed: {removed == len(temps)})")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    project = generate_project(WORK)
    subprocess.run([FLOWSTONE, "-p", str(project), "check"], check=True, capture_output=True)
    print(f"chaos: {args.seconds:g}s, {args.concurrency} concurrent commands, seed {args.seed}")
    started = time.monotonic()
    stats = chaos(project, args.seconds, args.concurrency, random.Random(args.seed))
    took = time.monotonic() - started
    print(f"  commands started: {sum(stats.started.values())} ({dict(stats.started)})")
    print(f"  kills: {sum(stats.kills.values())} ({dict(stats.kills)})")
    print(f"  runs resumed: {stats.resumed}")
    print(f"  exit codes: {dict(sorted(stats.exits.items()))}; took {took:.0f}s")
    print(f"  SIGINTs that landed during interpreter start-up: {stats.startup_interrupts}")
    found = check(project)
    found["every command ended as expected"] = stats.unexpected
    violations = 0
    for name, problems in found.items():
        violations += len(problems)
        print(f"  [{'ok' if not problems else 'VIOLATED'}] {name}")
        for problem in problems[:10]:
            print(f"      {problem}")
    print(f"  violations: {violations}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())

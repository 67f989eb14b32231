"""Shared pieces of the fault tests: throw-away projects, the real `flowstone` command in a
subprocess, and exact reads of the real metadata DuckDB file.

Fault tests coordinate with the code under test through files (an asset writes a marker when it
reaches the point to interrupt), never through sleeps alone.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from tests.cli_runner import Result, flowstone_executable, run_cli

__all__ = ["Result", "make_project", "flowstone", "spawn", "rows", "wait_for", "statuses",
           "succeeded_per_key", "store_path", "ignore_sigint", "check_materializations",
           "poll_rows", "check_current_records"]


def make_project(root: Path, modules: dict[str, str], *, toml: str = "",
                 name: str = "faults") -> Path:
    """Write a project: `flowstone.toml` (plus `toml`) and `assets/<name>.py` per module."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "flowstone.toml").write_text(f'[project]\nname = "{name}"\n\n' +
                                         textwrap.dedent(toml))
    (root / "assets").mkdir(exist_ok=True)
    for module, source in modules.items():
        (root / "assets" / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def flowstone(project: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 300) -> Result:
    """Run `flowstone -p PROJECT ARGS...` to completion."""
    return run_cli("-p", str(project), *args, env=env, timeout=timeout)


def spawn(project: Path, *args: str, env: dict[str, str] | None = None,
          preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[str]:
    """Start `flowstone -p PROJECT ARGS...` without waiting (stdout/stderr piped)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    environ.update(env or {})
    return subprocess.Popen([*flowstone_executable(), "-p", str(project), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environ, preexec_fn=preexec_fn)


def ignore_sigint() -> None:
    """A `preexec_fn`: the child starts with SIGINT ignored, like a job started with `&`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def store_path(project: Path) -> Path:
    """The project's metadata file (the default location)."""
    return project / "data" / "flowstone.duckdb"


def rows(project: Path, sql: str, params: Sequence[Any] = (), *,
         timeout: float = 120.0) -> list[tuple[Any, ...]]:
    """Query the metadata file read-only, as any other process would: a store not created yet
    has no rows, and a lock held for a moment by a running coordinator is waited out (DuckDB
    refuses a reader at once while a writer holds the file; FlowStone's own readers retry)."""
    path = store_path(project)
    deadline = time.monotonic() + timeout
    while True:
        if not path.exists() or path.stat().st_size == 0:
            return []
        try:
            with duckdb.connect(str(path), read_only=True) as con:
                return con.execute(sql, list(params)).fetchall()
        except duckdb.IOException as exc:
            if "Conflicting lock" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def statuses(project: Path, run_id: str) -> dict[str, list[str]]:
    """asset[partition] -> the statuses of its rows in a run, by attempt."""
    found: dict[str, list[str]] = {}
    for asset, partition, status in rows(
            project, 'SELECT asset, "partition", status FROM steps WHERE run_id = ? '
                     "ORDER BY attempt, ended_at", [run_id]):
        found.setdefault(asset if partition is None else f"{asset}[{partition}]",
                         []).append(status)
    return found


def succeeded_per_key(project: Path) -> Counter[str]:
    """How many succeeded rows each asset[partition] has over all runs."""
    return Counter(asset if partition is None else f"{asset}[{partition}]"
                   for asset, partition in rows(
                       project, "SELECT asset, \"partition\" FROM steps "
                                "WHERE status = 'succeeded'"))


def check_materializations(project: Path) -> list[str]:
    """Violations of "data first": recorded, not wiped materializations of local files whose
    file is missing or whose sha256 differs from the recorded data version."""
    problems = []
    for asset, partition, uri, version in rows(
            project, "SELECT asset, \"partition\", uri, data_version FROM steps "
                     "WHERE status = 'succeeded' AND NOT wiped"):
        if uri is None or not os.path.isabs(uri):
            continue
        path = Path(uri)
        if not path.exists():
            problems.append(f"{asset}[{partition}]: {uri} is missing")
        elif version and hashlib.sha256(path.read_bytes()).hexdigest() != version:
            problems.append(f"{asset}[{partition}]: {uri} does not match its data version")
    return problems


def check_current_records(project: Path, assets: Sequence[str] | None = None) -> list[str]:
    """Violations of "the store names the bytes on disk" for the current materializations (the
    succeeded, not wiped row recorded last per asset partition) of local pickle files whose
    values are `{"id": "<asset>:<step_id>", "read": {upstream: upstream's id}}`:

    - the file's sha256 differs from the record's data version;
    - the value in the file was not produced by the recorded step;
    - a lineage row of the record names another materialization than the one its value read.

    `assets` limits the check to those assets' records.
    """
    import pickle

    problems = []
    current = rows(project, """
        SELECT step_id, asset, uri, data_version FROM steps WHERE rowid IN (
            SELECT arg_max(rowid, seq) FROM steps WHERE status = 'succeeded' AND NOT wiped
            GROUP BY asset, "partition")""")
    lineage: dict[str, dict[str, str]] = {}
    for step_id, upstream_asset, upstream_step in rows(
            project, "SELECT step_id, upstream_asset, upstream_step_id FROM lineage"):
        lineage.setdefault(step_id, {})[upstream_asset] = f"{upstream_asset}:{upstream_step}"
    for step_id, asset, uri, version in current:
        if assets is not None and asset not in assets:
            continue
        data = Path(uri).read_bytes()
        if hashlib.sha256(data).hexdigest() != version:
            problems.append(f"{asset}: {uri} does not hold its recorded data version")
            continue
        value = pickle.loads(data)  # noqa: S301 - written by the test's own assets
        if value["id"] != f"{asset}:{step_id}":
            problems.append(f"{asset}: the file holds {value['id']}, the store names {step_id}")
        if value["read"] != lineage.get(step_id, {}):
            problems.append(f"{asset}: read {value['read']}, lineage names "
                            f"{lineage.get(step_id, {})}")
    return problems


def wait_for(path: Path, timeout: float = 120.0, *, proc: subprocess.Popen[str] | None = None
             ) -> None:
    """Wait until `path` exists (failing early if `proc` exits first)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process exited ({proc.returncode}) before {path} appeared:"
                                 f"\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.02)


def poll_rows(project: Path, sql: str, params: Sequence[Any] = (), *,
              until: Callable[[list[tuple[Any, ...]]], bool], timeout: float = 120.0
              ) -> list[tuple[Any, ...]]:
    """Query the store until `until(rows)` holds, retrying while a writer holds the file."""
    deadline = time.monotonic() + timeout
    found: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        if store_path(project).exists():
            try:
                found = rows(project, sql, params)
            except (duckdb.IOException, duckdb.CatalogException):
                found = []  # a coordinator holds the file for a moment, or it is brand new
            if until(found):
                return found
        time.sleep(0.05)
    raise AssertionError(f"store never satisfied the condition; last rows: {found}")

"""The metadata file survives what the machine does to it, through the real CLI.

Fault cases 15 (a file from a newer schema is refused and left untouched) and 16 (a full disk
during a commit gives a clean error, and the store works once space returns); and the guarantee
that workers are never forked while a metadata session is open.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
from pathlib import Path

import duckdb
import pytest

from flowstone_cli.api.materialize import MaterializeOptions, materialize
from flowstone_cli.api.project import open_project
from flowstone_cli.execution.pool import WorkerPool
from flowstone_cli.metadata import connection
from tests.cli_runner import flowstone_executable
from tests.reliability.harness import (
    check_materializations,
    flowstone,
    make_project,
    rows,
    statuses,
    store_path,
)

PIPELINE = """
    import os
    from flowstone_cli import asset

    @asset
    def quiet():
        return 1

    @asset
    def noisy(context, quiet):
        for i in range(int(os.environ.get("NOISE", "0"))):
            context.log.info(f"line {i} " + "x" * 1000)
        return quiet + 1
"""


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("damage", ["newer_schema", "not_duckdb"])
def test_a_store_this_flowstone_cannot_use_is_refused_and_left_untouched(
        tmp_path: Path, damage: str) -> None:
    project = make_project(tmp_path / "project", {"pipeline": PIPELINE})
    first = flowstone(project, "materialize", "*", "--json")
    assert first.code == 0
    if damage == "newer_schema":
        with duckdb.connect(str(store_path(project))) as con:
            con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        expected = "was written by a newer FlowStone (schema 999"
    else:
        store_path(project).write_bytes(b"this is not a database" * 100)
        expected = "is not a DuckDB database file"
    before = _digest(project / "data")
    run_id = first.json()["run_id"]
    for command in (["runs", "list"], ["materialize", "*", "--force"], ["runs", "show", run_id],
                    ["runs", "resume", run_id], ["runs", "cancel", run_id],
                    ["backfill", "list"]):
        result = flowstone(project, *command)
        assert result.code == 2, (command, result.stderr)
        assert expected in result.stderr and "left untouched" in result.stderr, command
        assert "Traceback" not in result.stderr
    assert _digest(project / "data") == before  # not a byte changed, no file added


def _limited(limit_bytes: int) -> None:
    # A full disk, simulated: writes past `limit_bytes` in any file fail with EFBIG (as ENOSPC
    # would) instead of killing the process with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))


def test_a_full_disk_during_a_commit_is_a_clean_error_and_the_store_recovers(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": PIPELINE})
    first = flowstone(project, "materialize", "*", "--json")
    assert first.code == 0
    assert not Path(f"{store_path(project)}.wal").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    # ~2 MB of log events in one batch cannot fit under a 1 MB file-size limit.
    full = subprocess.run([*flowstone_executable(), "-p", str(project), "materialize", "noisy",
                           "--force"], env={**env, "NOISE": "2000"}, capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: _limited(1_000_000))
    assert full.returncode == 2, full.stdout + full.stderr
    assert "could not write to metadata store" in full.stderr
    assert "the write was not recorded" in full.stderr and "disk space" in full.stderr
    assert "Traceback" not in full.stderr

    listed = flowstone(project, "runs", "list", "--json")  # space is back
    assert listed.code == 0, listed.stderr
    runs = {r["run_id"]: r["status"] for r in listed.json()}
    assert runs.pop(first.json()["run_id"]) == "succeeded"
    (failed_run, status), = runs.items()
    assert status == "crashed"  # its process exited without recording an outcome
    assert statuses(project, first.json()["run_id"]) == {"quiet": ["succeeded"],
                                                         "noisy": ["succeeded"]}
    resumed = flowstone(project, "runs", "resume", failed_run, "--json", env={"NOISE": "3"})
    assert resumed.code == 0, resumed.stderr
    assert [(s["asset"], s["status"]) for s in resumed.json()["steps"]] == [
        ("noisy", "succeeded")]
    assert check_materializations(project) == []


CRASHY = """
    import os, signal, time
    from flowstone_cli import asset

    @asset
    def crashes():
        os.kill(os.getpid(), signal.SIGKILL)

    @asset
    def after_crash():
        time.sleep(0.2)
        return 0
""" + "".join(f"""
    @asset
    def busy_{i}(after_crash):
        time.sleep(0.2)
        return {i}
""" for i in range(4))


def test_workers_are_never_forked_while_a_metadata_session_is_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = open_project(make_project(tmp_path / "project", {"crashy": CRASHY}))
    open_sessions_at_fork: list[dict[str, int]] = []
    start_worker = WorkerPool._start_worker

    def recording(pool: WorkerPool) -> None:
        # `_owners` lists the metadata files this process has a session open on right now.
        open_sessions_at_fork.append(dict(connection._owners))
        start_worker(pool)

    monkeypatch.setattr(WorkerPool, "_start_worker", recording)
    summary = materialize(project, MaterializeOptions(selection=["*"], workers=2))
    assert {o.key.asset: o.status.value for o in summary.steps} == {
        "crashes": "failed", "after_crash": "succeeded",
        **{f"busy_{i}": "succeeded" for i in range(4)}}
    assert len(open_sessions_at_fork) >= 3  # two at start, a replacement for the crashed one
    assert open_sessions_at_fork == [{}] * len(open_sessions_at_fork)
    assert rows(project.root, "SELECT count(*) FROM steps") == [(6,)]

"""Killed and canceled runs: crash detection, `runs resume`, `runs cancel`, heartbeats.

Fault cases 3 (SIGKILL at random points while writing metadata) and 4 (a running run whose
process is killed is marked crashed; resume re-runs only the unfinished steps).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flowstone_cli.execution.liveness import process_token
from flowstone_cli.metadata import MetadataStore, RunRecord, RunStatus
from tests.reliability.harness import (
    check_materializations,
    flowstone,
    ignore_sigint,
    make_project,
    poll_rows,
    rows,
    spawn,
    statuses,
    store_path,
    succeeded_per_key,
    wait_for,
)

SLOW_PIPELINE = """
    import os, time
    from pathlib import Path
    from flowstone_cli import asset

    @asset
    def first():
        return 1

    @asset
    def independent():
        return 5

    @asset
    def slow(first):
        marker = os.environ.get("SLOW_MARKER")
        if marker:
            Path(marker).write_text(str(os.getpid()))
            time.sleep(float(os.environ.get("SLOW_SECONDS", "60")))
        return first + 1

    @asset
    def after(slow):
        return slow + 1
"""


def _slow_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project", {"pipeline": SLOW_PIPELINE})


def _start_slow_run(project: Path, marker: Path, **kwargs: object) -> tuple[
        subprocess.Popen[str], str]:
    """Start `materialize '*'` and return it once `slow` runs and `first` is recorded."""
    proc = spawn(project, "materialize", "*", env={"SLOW_MARKER": str(marker)},
                 **kwargs)  # type: ignore[arg-type]
    wait_for(marker, proc=proc)
    found = poll_rows(project, "SELECT run_id FROM steps WHERE asset = 'first' AND "
                               "status = 'succeeded'", until=bool)
    return proc, found[0][0]


def test_sigkilled_run_is_reported_crashed_and_resume_runs_only_the_unfinished_steps(
        tmp_path: Path) -> None:
    project = _slow_project(tmp_path)
    proc, run_id = _start_slow_run(project, tmp_path / "slow.pid")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)

    listed = flowstone(project, "runs", "list", "--json")
    assert listed.code == 0, listed.stderr
    assert [(r["run_id"], r["status"]) for r in listed.json()] == [(run_id, "crashed")]
    assert "is gone" in listed.json()[0]["summary"]["crashed"]
    assert statuses(project, run_id) == {"first": ["succeeded"], "independent": ["succeeded"],
                                         "slow": ["abandoned"], "after": ["abandoned"]}

    resumed = flowstone(project, "runs", "resume", run_id[:15], "--json")
    assert resumed.code == 0, resumed.stderr
    summary = resumed.json()
    assert {s["asset"]: s["status"] for s in summary["steps"]} == {"slow": "succeeded",
                                                                   "after": "succeeded"}
    assert rows(project, "SELECT parent_run_id, \"trigger\" FROM runs WHERE run_id = ?",
                [summary["run_id"]]) == [(run_id, "resume")]
    assert succeeded_per_key(project) == {"first": 1, "independent": 1, "slow": 1, "after": 1}
    assert check_materializations(project) == []


def test_resume_of_a_finished_run_with_nothing_left_is_refused(tmp_path: Path) -> None:
    project = _slow_project(tmp_path)
    done = flowstone(project, "materialize", "*", "--json")
    assert done.code == 0
    again = flowstone(project, "runs", "resume", done.json()["run_id"])
    assert again.code == 2
    assert "nothing to resume" in again.stderr and "Traceback" not in again.stderr


def test_a_reused_pid_does_not_keep_a_dead_run_alive(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "data" / "flowstone.duckdb")
    project = make_project(tmp_path, {"pipeline": SLOW_PIPELINE})
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.1)
        now = datetime.now(timezone.utc)
        with store.writer() as writer:
            for run_id, token in (("run-reused", "not-the-same-process"),
                                  ("run-alive", process_token(sleeper.pid))):
                writer.insert_run(RunRecord(run_id, RunStatus.RUNNING, host=_host(),
                                            pid=sleeper.pid, started_at=now, heartbeat_at=now))
                writer.record_ownership(run_id, token, [("first", None)])
        listed = flowstone(project, "runs", "list", "--json")
        assert listed.code == 0, listed.stderr
        got = {r["run_id"]: r["status"] for r in listed.json()}
        assert got == {"run-reused": "crashed", "run-alive": "running"}
        assert statuses(project, "run-reused") == {"first": ["abandoned"]}
        assert statuses(project, "run-alive") == {}
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_run_of_another_host_is_crashed_only_once_its_heartbeat_is_stale(
        tmp_path: Path) -> None:
    project = make_project(tmp_path, {"pipeline": SLOW_PIPELINE})
    store = MetadataStore(store_path(project))
    now = datetime.now(timezone.utc)
    with store.writer() as writer:
        for run_id, beat in (("run-stale", now - timedelta(minutes=2)), ("run-fresh", now)):
            writer.insert_run(RunRecord(run_id, RunStatus.RUNNING, host="elsewhere", pid=1,
                                        started_at=beat, heartbeat_at=beat))
            writer.record_ownership(run_id, "token", [("first", None)])
    # run-fresh's coordinator, elsewhere, keeps beating however long the commands below take
    # on a busy machine (a beat older than a minute is stale).
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(2.0):
            with store.writer() as writer:
                writer.update_run("run-fresh", heartbeat_at=datetime.now(timezone.utc))

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    try:
        shown = flowstone(project, "runs", "show", "run-stale", "--json")
        assert shown.code == 0, shown.stderr
        assert shown.json()["status"] == "crashed"
        assert "no heartbeat from elsewhere" in shown.json()["summary"]["crashed"]
        assert flowstone(project, "runs", "show", "run-fresh", "--json").json()["status"] == \
            "running"
    finally:
        stop.set()
        beater.join(timeout=120)


def test_the_heartbeat_is_refreshed_while_a_long_step_runs(tmp_path: Path) -> None:
    project = _slow_project(tmp_path)
    proc = spawn(project, "materialize", "*",
                 env={"SLOW_MARKER": str(tmp_path / "m"), "SLOW_SECONDS": "12"})
    try:
        wait_for(tmp_path / "m", proc=proc, timeout=120)
        # While the 12 s step runs, the coordinator refreshes the heartbeat (every 5 s at most).
        refreshed = False
        while proc.poll() is None and not refreshed:
            (started, beat), = rows(project, "SELECT epoch(started_at), epoch(heartbeat_at) "
                                             "FROM runs")
            refreshed = beat - started > 4.0
            time.sleep(0.2)
        assert refreshed, "no heartbeat during a 12 s step"
    finally:
        proc.communicate(timeout=120)
    assert proc.returncode == 0


def test_runs_cancel_interrupts_a_run_on_this_host_which_records_itself_canceled(
        tmp_path: Path) -> None:
    project = _slow_project(tmp_path)
    proc, run_id = _start_slow_run(project, tmp_path / "slow.pid")
    refused = flowstone(project, "runs", "resume", run_id)
    assert refused.code == 2 and "still running" in refused.stderr
    canceled = flowstone(project, "runs", "cancel", run_id, "--json")
    assert canceled.code == 0, canceled.stderr
    assert canceled.json() == {"run_id": run_id, "status": "canceled",
                               "signalled_pid": proc.pid}
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert statuses(project, run_id) == {"first": ["succeeded"], "independent": ["succeeded"],
                                         "slow": ["canceled"], "after": ["canceled"]}
    assert rows(project, "SELECT count(*) FROM claims") == [(0,)]
    again = flowstone(project, "runs", "cancel", run_id)
    assert again.code == 2 and "not running (it is canceled)" in again.stderr


def test_runs_cancel_reaches_a_run_that_ignores_signals_through_the_store(
        tmp_path: Path) -> None:
    # A coordinator started with SIGINT ignored (`flowstone ... &` in a script) stands for one
    # on another host: only the request written to the store can reach it.
    project = _slow_project(tmp_path)
    proc, run_id = _start_slow_run(project, tmp_path / "slow.pid", preexec_fn=ignore_sigint)
    canceled = flowstone(project, "runs", "cancel", run_id, "--json")
    assert canceled.code == 0, canceled.stderr
    assert canceled.json()["status"] == "canceled"  # the coordinator saw it (it looks every 5 s)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    (requested_by,), = [r[1:] for r in rows(
        project, "SELECT run_id, cancel_requested_by FROM run_control WHERE run_id = ?",
        [run_id])]
    assert requested_by
    events = rows(project, "SELECT data FROM events WHERE run_id = ? AND kind = "
                           "'run_finished'", [run_id])
    assert json.loads(events[0][0]).get("canceled") == 2


def _host() -> str:
    return socket.gethostname()

"""Several `flowstone` processes on one project: lock conflicts and claims.

Fault cases 1 (two materializations start together) and 2 (a writer holds the store past the
deadline), and the claim semantic: a step another live run computes is waited for and reused.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.harness import (
    check_materializations,
    flowstone,
    make_project,
    poll_rows,
    rows,
    spawn,
    statuses,
    store_path,
    succeeded_per_key,
    wait_for,
)

SHARED = """
    import os, time
    from pathlib import Path
    from flowstone_cli import asset

    @asset
    def source():
        return 1

    @asset
    def shared(context, source):
        marker = os.environ.get("SHARED_MARKER")
        if marker:
            Path(marker).write_text(context.run_id)
            release = Path(os.environ.get("SHARED_RELEASE", "/nonexistent/never"))
            deadline = time.monotonic() + float(os.environ.get("SHARED_SECONDS", "60"))
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return source + 1

    @asset
    def left(context, shared):
        context.log.info("left")
        return shared * 2

    @asset
    def right(context, shared):
        context.log.info("right")
        return shared * 3
"""


def _project(tmp_path: Path, *, lock_timeout: float = 30.0) -> Path:
    return make_project(tmp_path / "project", {"pipeline": SHARED},
                        toml=f"[metadata]\nlock_timeout = {lock_timeout}\n")


def _wait_for_waiting(project: Path, holder: str, waiter: subprocess.Popen[str]) -> None:
    """Wait (generously) until a run other than `holder` has recorded that it waits for
    `shared`: polling the store, as any other process would."""
    poll_rows(project, "SELECT count(*) FROM events WHERE kind = 'step_waiting' AND asset = "
                       "'shared' AND run_id <> ?", [holder],
              until=lambda found: bool(found and found[0][0]) or waiter.poll() is not None,
              timeout=180)
    assert waiter.poll() is None, waiter.communicate()


def test_two_materializations_started_together_both_finish_and_record_everything_once(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = spawn(project, "materialize", "+left", "--json")
    second = spawn(project, "materialize", "+right", "--json")
    outs = [proc.communicate(timeout=300) for proc in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    run_ids = [json.loads(out)["run_id"] for out, _ in outs]
    # source and shared are in both selections: computed once, never by both runs.
    assert succeeded_per_key(project) == {"source": 1, "shared": 1, "left": 1, "right": 1}
    for run_id in run_ids:
        kinds = dict(rows(project, "SELECT kind, count(*) FROM events WHERE run_id = ? AND "
                                   "kind IN ('run_started', 'run_finished') GROUP BY kind",
                          [run_id]))
        assert kinds == {"run_started": 1, "run_finished": 1}
    assert rows(project, "SELECT count(*) - count(DISTINCT event_id) FROM events") == [(0,)]
    assert rows(project, "SELECT count(*) - count(DISTINCT step_id) FROM steps") == [(0,)]
    assert rows(project, "SELECT count(*) FROM claims") == [(0,)]
    assert check_materializations(project) == []


def test_a_step_claimed_by_a_live_run_is_waited_for_and_its_result_reused(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    marker, release = tmp_path / "shared.run", tmp_path / "shared.release"
    first = spawn(project, "materialize", "+left", "--json",
                  env={"SHARED_MARKER": str(marker), "SHARED_RELEASE": str(release),
                       "SHARED_SECONDS": "300"})
    wait_for(marker, proc=first, timeout=120)
    holder = marker.read_text()
    second = spawn(project, "materialize", "+right", "--json")
    # `shared` stays claimed by the first run until the second run is seen waiting for it.
    _wait_for_waiting(project, holder, second)
    release.touch()
    out, err = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 0, second_err
    second_run = json.loads(second_out)
    got = {s["asset"]: (s["status"], s["reason"]) for s in second_run["steps"]}
    assert got["shared"] == ("up_to_date", f"materialized by run {holder}")
    assert got["right"][0] == "succeeded"
    assert succeeded_per_key(project) == {"source": 1, "shared": 1, "left": 1, "right": 1}
    # `right` consumed exactly the value the other run produced.
    (produced,), = rows(project, "SELECT step_id FROM steps WHERE asset = 'shared' AND "
                                 "status = 'succeeded'")
    assert rows(project, "SELECT l.upstream_step_id FROM lineage l JOIN steps s USING "
                         "(step_id) WHERE s.asset = 'right'") == [(produced,)]
    waited = rows(project, "SELECT asset FROM events WHERE run_id = ? AND kind = "
                           "'step_waiting'", [second_run["run_id"]])
    assert ("shared",) in waited  # (`source` too, if the first run had not recorded it yet)


def test_when_the_claiming_run_is_killed_the_waiting_run_computes_the_step_itself(
        tmp_path: Path) -> None:
    project = _project(tmp_path)
    marker = tmp_path / "shared.run"
    first = spawn(project, "materialize", "+left", env={"SHARED_MARKER": str(marker)})
    wait_for(marker, proc=first, timeout=120)
    second = spawn(project, "materialize", "+right", "--json")
    _wait_for_waiting(project, marker.read_text(), second)  # waiting on the first one's claim
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=120)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    dead_run = marker.read_text()
    assert rows(project, "SELECT status FROM runs WHERE run_id = ?", [dead_run]) == \
        [("crashed",)]
    assert statuses(project, dead_run) == {"source": ["succeeded"], "shared": ["abandoned"],
                                           "left": ["abandoned"]}
    got = {s["asset"]: s["status"] for s in json.loads(out)["steps"]}
    assert got == {"source": "up_to_date", "shared": "succeeded", "right": "succeeded"}
    assert succeeded_per_key(project) == {"source": 1, "shared": 1, "right": 1}


def test_a_writer_holding_the_store_past_the_deadline_makes_materialize_exit_4(
        tmp_path: Path) -> None:
    project = _project(tmp_path, lock_timeout=0.5)
    assert flowstone(project, "materialize", "+left").code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, time\n"
         f"con = duckdb.connect({str(store_path(project))!r})\n"
         "print('held', flush=True)\ntime.sleep(30)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = flowstone(project, "materialize", "right", "--force")
        assert busy.code == 4
        assert f"PID {holder.pid}" in busy.stderr and "busy" in busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        holder.kill()
        holder.wait()
    # Nothing of the refused command was recorded, and the store works again.
    assert [r[0] for r in rows(project, "SELECT \"trigger\" FROM runs")] == ["cli"]
    assert flowstone(project, "materialize", "right", "--json").code == 0

"""Signals and limits (issue 11): SIGTERM cancels a run like Ctrl-C, the inline executor refuses
a step timeout it cannot enforce, waiting on a stopped run's claim is bounded, and `sql` never
holds the store longer than its timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.harness import (
    flowstone,
    make_project,
    poll_rows,
    rows,
    spawn,
    statuses,
    wait_for,
)

SLOW = """
    import os, time
    from pathlib import Path
    from flowstone_cli import asset

    @asset
    def first():
        return 1

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


@pytest.mark.parametrize("executor", ["process", "inline"])
def test_sigterm_cancels_the_run_like_ctrl_c_and_releases_its_claims(
        tmp_path: Path, executor: str) -> None:
    project = make_project(tmp_path / "project", {"pipeline": SLOW})
    marker = tmp_path / "slow.pid"
    proc = spawn(project, "materialize", "*", "--executor", executor,
                 env={"SLOW_MARKER": str(marker)})
    wait_for(marker, proc=proc)
    run_id = poll_rows(project, "SELECT run_id FROM runs", until=bool)[0][0]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    assert "Traceback" not in err
    assert rows(project, "SELECT status FROM runs WHERE run_id = ?", [run_id]) == [("canceled",)]
    assert statuses(project, run_id) == {"first": ["succeeded"], "slow": ["canceled"],
                                         "after": ["canceled"]}
    assert rows(project, "SELECT count(*) FROM claims") == [(0,)]


def test_the_inline_executor_refuses_a_step_timeout_it_cannot_enforce(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": SLOW})
    result = flowstone(project, "materialize", "*", "--executor", "inline",
                       "--step-timeout", "1s")
    assert result.code == 2, result.stderr
    assert "inline executor cannot enforce a step timeout" in result.stderr
    assert "--executor process" in result.stderr
    assert not (project / "data" / "flowstone.duckdb").exists()
    configured = make_project(tmp_path / "configured", {"pipeline": SLOW},
                              toml='[executor]\ntype = "inline"\nstep_timeout = "5s"\n')
    refused = flowstone(configured, "materialize", "*")
    assert refused.code == 2 and "cannot enforce a step timeout" in refused.stderr


QUICK = """
    from flowstone_cli import asset

    @asset
    def one():
        return 1

    @asset
    def two(one):
        return one + 1
"""


def test_a_runaway_sql_query_is_stopped_at_its_timeout_and_never_blocks_a_run(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"quick": QUICK},
                           toml='[metadata]\nlock_timeout = 20\n')
    first = flowstone(project, "materialize", "*")
    assert first.code == 0, first.stderr
    query = spawn(project, "sql", "SELECT count(*) FROM range(100000000000000)", "--timeout", "3")
    time.sleep(0.5)  # let the query take the store (the run must wait for it, not fail)
    run = flowstone(project, "materialize", "*", "--force", "--json")
    out, err = query.communicate(timeout=60)
    assert query.returncode == 2, (out, err)
    assert "did not finish within 3s and was stopped" in err
    assert run.code == 0, run.stderr
    assert {s["status"] for s in run.json()["steps"]} == {"succeeded"}


def test_sql_prints_at_most_limit_rows_and_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"quick": QUICK})
    assert flowstone(project, "materialize", "*").code == 0
    shown = flowstone(project, "sql", "SELECT * FROM range(5000)", "--json")
    assert shown.code == 0, shown.stderr
    assert len(shown.json()["rows"]) == 1000 and shown.json()["truncated"] is True
    few = flowstone(project, "sql", "SELECT * FROM range(5000)", "--limit", "10", "--csv")
    assert few.code == 0 and few.stdout.splitlines()[1:] == [str(i) for i in range(10)]
    assert "only the first 10 rows are shown" in few.stderr
    whole = flowstone(project, "sql", "SELECT * FROM range(5000)", "--limit", "0", "--json")
    assert len(whole.json()["rows"]) == 5000 and whole.json()["truncated"] is False


def _set_heartbeat(project: Path, run_id: str, age_seconds: int) -> None:
    import duckdb

    deadline = time.monotonic() + 30
    while True:
        try:
            with duckdb.connect(str(project / "data" / "flowstone.duckdb")) as con:
                con.execute(f"UPDATE runs SET heartbeat_at = now() - INTERVAL {age_seconds} "
                            "SECOND WHERE run_id = ?", [run_id])
            return
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_waiting_on_a_stopped_runs_claim_is_bounded_by_its_heartbeat_and_claim_timeout(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": SLOW})
    marker = tmp_path / "slow.pid"
    owner = spawn(project, "materialize", "*", env={"SLOW_MARKER": str(marker)})
    try:
        wait_for(marker, proc=owner)
        run_id = poll_rows(project, "SELECT run_id FROM runs", until=bool)[0][0]
        owner.send_signal(signal.SIGSTOP)  # alive on this host, but silent
        time.sleep(0.5)
        # Its heartbeat is two minutes old: waiting for it is pointless.
        _set_heartbeat(project, run_id, 120)
        stale = flowstone(project, "materialize", "slow", "after", "--force", "--json")
        assert stale.code == 1, stale.stderr
        steps = {s["asset"]: (s["status"], s["error_code"]) for s in stale.json()["steps"]}
        assert steps["slow"] == ("failed", "claim_timeout")
        assert steps["after"][0] == "skipped"
        (message,), = rows(project, "SELECT error_message FROM steps WHERE run_id = ? AND "
                                    "asset = 'slow'", [stale.json()["run_id"]])
        assert f"claimed by run {run_id} (pid {owner.pid}" in message
        assert "has sent no heartbeat for" in message
        # A fresh heartbeat, but --claim-timeout bounds the wait; the wait is announced.
        _set_heartbeat(project, run_id, 0)
        timed = flowstone(project, "materialize", "slow", "--force", "--claim-timeout", "2")
        assert timed.code == 1, timed.stderr
        assert f"slow is being computed by run {run_id}; waiting for it (at most 2s)" \
            in timed.stdout
        assert "after --claim-timeout 2s" in timed.stderr
        assert rows(project, "SELECT error_code FROM steps WHERE asset = 'slow' AND status = "
                             "'failed'") == [("claim_timeout",), ("claim_timeout",)]
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.send_signal(signal.SIGCONT)
        owner.communicate(timeout=30)

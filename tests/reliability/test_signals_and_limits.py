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

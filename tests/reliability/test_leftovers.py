"""What killed runs leave behind (issue 11): temporary files are removed by the next run and by
`flowstone gc`, and a crashed run's summary counts its steps and shows how long it ran."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.reliability.harness import flowstone, make_project, poll_rows, rows, spawn, wait_for

PIPELINE = """
    import os, time
    from pathlib import Path
    from flowstone_cli import asset

    @asset
    def first():
        time.sleep(0.3)
        return 1

    @asset
    def slow(first):
        marker = os.environ.get("SLOW_MARKER")
        if marker:
            Path(marker).write_text("x")
            time.sleep(60)
        return first + 1
"""

DEAD_PID = 2 ** 22 + 12345  # above the default pid_max: never a running process


def _leftover(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{name}.tmp-{DEAD_PID}-0123abcd"
    path.write_bytes(b"half a value")
    return path


def test_the_next_run_and_gc_remove_temporary_files_of_killed_writers(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": PIPELINE})
    data = project / "data"
    in_run_folder = _leftover(data, "first.pkl")
    elsewhere = _leftover(data / "other", "x.pkl")
    run = flowstone(project, "materialize", "first")
    assert run.code == 0, run.stderr
    assert not in_run_folder.exists()  # in a folder the run wrote to
    assert elsewhere.exists()  # the run only looks where it writes
    swept = flowstone(project, "gc", "--json")
    assert swept.code == 0, swept.stderr
    assert swept.json()["removed"] == 1 and not elsewhere.exists()
    assert (data / "first.pkl").exists()
    again = flowstone(project, "gc")
    assert again.code == 0 and "removed 0 leftover temporary file(s)" in again.stdout


def test_a_crashed_runs_summary_counts_its_steps_and_its_real_duration(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": PIPELINE})
    marker = tmp_path / "slow"
    proc = spawn(project, "materialize", "*", env={"SLOW_MARKER": str(marker)})
    wait_for(marker, proc=proc)
    poll_rows(project, "SELECT 1 FROM steps WHERE asset = 'first'", until=bool)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    listed = flowstone(project, "runs", "list", "--json")
    assert listed.code == 0, listed.stderr
    (run,) = listed.json()
    assert run["status"] == "crashed"
    summary = run["summary"]
    assert summary["counts"] == {"abandoned": 1, "succeeded": 1}
    (started, ended), = rows(project, "SELECT epoch(started_at), epoch(ended_at) FROM runs")
    assert ended - started >= 0.3  # at least `first`'s own 0.3 s, never 0.0
    assert summary["duration_s"] == round(ended - started, 3)
    shown = flowstone(project, "runs", "show", run["run_id"])
    assert shown.code == 0 and "crashed" in shown.stdout
    text = flowstone(project, "runs", "list")
    assert "0.0s" not in text.stdout, text.stdout

"""`wipe` holds the partitions' claims like a run: a materialization racing a slow wipe can
never leave a current record whose value file the wipe deleted."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.reliability.harness import (
    check_materializations,
    flowstone,
    make_project,
    poll_rows,
    spawn,
    wait_for,
)

PIPELINE = """
    import os
    from flowstone_cli import asset

    @asset(io_manager="slowdel")
    def value():
        return os.environ.get("VALUE", "v1")
"""

# A back-end whose delete is slow (as on S3): it announces the delete, then waits for a gate.
SLOW_DELETE = """
    import os, time
    from pathlib import Path
    from flowstone_cli.io.pickle_manager import PickleIOManager


    class SlowDelete(PickleIOManager):
        def delete(self, ctx):
            started, gate = os.environ.get("DELETE_STARTED"), os.environ.get("DELETE_GATE")
            if started and gate:
                Path(started).write_text("deleting")
                deadline = time.monotonic() + 120
                while not Path(gate).exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
            super().delete(ctx)
"""


def test_a_materialization_racing_a_slow_wipe_never_loses_its_file(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": PIPELINE},
                           toml='[executor]\ntype = "inline"\n\n[io_managers.slowdel]\n'
                                'type = "lib.slow:SlowDelete"\n')
    (project / "lib").mkdir()
    (project / "lib" / "__init__.py").write_text("")
    (project / "lib" / "slow.py").write_text(SLOW_DELETE.replace("\n    ", "\n")[1:])
    assert flowstone(project, "materialize", "value").code == 0

    started, gate = tmp_path / "delete.started", tmp_path / "delete.gate"
    wiper = spawn(project, "wipe", "value", "--yes",
                  env={"DELETE_STARTED": str(started), "DELETE_GATE": str(gate)})
    wait_for(started, timeout=60, proc=wiper)  # v1 is marked wiped; the delete is under way
    runner = spawn(project, "materialize", "value", env={"VALUE": "v2"})
    # Either the run finishes (a wipe without claims lets it), or it waits on the wipe's claim.
    poll_rows(project, "SELECT 1 FROM events WHERE kind = 'step_waiting' AND asset = 'value'",
              until=lambda found: bool(found) or runner.poll() is not None, timeout=60)
    gate.write_text("go")
    wiper_out, wiper_err = wiper.communicate(timeout=120)
    runner_out, runner_err = runner.communicate(timeout=120)
    assert wiper.returncode == 0, wiper_out + wiper_err
    assert runner.returncode == 0, runner_out + runner_err

    assert check_materializations(project) == []
    current = poll_rows(project, "SELECT uri FROM steps WHERE asset = 'value' AND "
                                 "status = 'succeeded' AND NOT wiped", until=lambda r: True)
    assert len(current) == 1 and Path(current[0][0]).exists(), current
    # The store and the file agree: the next run has nothing to do.
    again = flowstone(project, "materialize", "value", "--json")
    assert {s["status"] for s in again.json()["steps"]} == {"up_to_date"}


def test_wipe_waits_for_a_running_materialization_and_marks_what_it_recorded(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pipeline": """
        import os, time
        from pathlib import Path
        from flowstone_cli import asset

        @asset
        def value():
            Path(os.environ["STARTED"]).write_text("x")
            deadline = time.monotonic() + 120
            while not Path(os.environ["GATE"]).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            return 2
    """}, toml='[executor]\ntype = "inline"\n')
    started, gate = tmp_path / "run.started", tmp_path / "run.gate"
    env = {"STARTED": str(tmp_path / "first"), "GATE": str(tmp_path / "first")}
    (tmp_path / "first").write_text("")
    assert flowstone(project, "materialize", "value", env=env).code == 0
    runner = spawn(project, "materialize", "value", "--force",
                   env={"STARTED": str(started), "GATE": str(gate)})
    wait_for(started, timeout=60, proc=runner)
    wiping = spawn(project, "wipe", "value", "--yes")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(wiping.stderr.readline, "")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any("waiting for run" in line for line in lines):
        assert wiping.poll() is None or lines, "wipe exited without waiting"
        assert time.monotonic() < deadline, f"wipe never said it waits: {lines}"
        time.sleep(0.05)
    gate.write_text("go")
    assert wiping.wait(timeout=120) == 0, lines
    reader.join(timeout=30)
    runner_out, runner_err = runner.communicate(timeout=120)
    assert runner.returncode == 0, runner_out + runner_err
    # Both materializations (the first run's and the racing run's) are marked wiped.
    left = poll_rows(project, "SELECT count(*) FROM steps WHERE asset = 'value' AND "
                              "status = 'succeeded' AND NOT wiped", until=lambda r: True)
    assert left == [(0,)]
    assert check_materializations(project) == []

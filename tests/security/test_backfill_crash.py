"""A SIGKILLed backfill coordinator: the backfill's state follows its runs (crashed, resumable),
whichever command looks first."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.reliability.harness import flowstone, make_project, poll_rows, spawn, wait_for

PARTITIONED = """
    import os, time
    from pathlib import Path
    from flowstone_cli import StaticPartitions, asset

    @asset(partitions=StaticPartitions(["a", "b", "c"]))
    def part(context):
        marker = os.environ.get("SLOW_MARKER")
        if marker and context.partition == "b":
            Path(marker).write_text(str(os.getpid()))
            time.sleep(60)
        return context.partition
"""


@pytest.mark.parametrize("first_look", [["backfill", "list", "--json"],
                                        ["runs", "list", "--json"],
                                        ["backfill", "show", "BF", "--json"]])
def test_a_killed_backfill_is_crashed_and_resumable_not_running(tmp_path: Path,
                                                                 first_look: list[str]) -> None:
    project = make_project(tmp_path / "project", {"pipeline": PARTITIONED},
                           toml='[executor]\ntype = "inline"\n')
    marker = tmp_path / "slow.pid"
    proc = spawn(project, "backfill", "part", "--partitions", "a", "b", "c",
                 env={"SLOW_MARKER": str(marker)})
    wait_for(marker, proc=proc)
    backfill_id = poll_rows(project, "SELECT backfill_id FROM backfills", until=bool)[0][0]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)

    looked = flowstone(project, *[backfill_id if a == "BF" else a for a in first_look])
    assert looked.code == 0, looked.stderr
    listed = flowstone(project, "backfill", "list", "--json")
    assert [(b["backfill_id"], b["status"]) for b in listed.json()] == [(backfill_id, "crashed")]
    shown = flowstone(project, "backfill", "show", backfill_id, "--json").json()
    assert shown["backfill"]["status"] == "crashed"
    assert shown["grid"]["b"]["part"] == "abandoned"

    resumed = flowstone(project, "backfill", "resume", backfill_id, "--json")
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    assert flowstone(project, "backfill", "show", backfill_id, "--json").json()[
        "backfill"]["status"] == "succeeded"

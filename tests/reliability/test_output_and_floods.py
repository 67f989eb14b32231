"""Steps cannot corrupt `--json` output or flood the store (issue 11): output written to file
descriptor 1 (print, os.write, subprocesses) goes to the step's log with both executors, a step's
log is capped (the tail is kept and the rest counted), and a huge exception message is cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.harness import flowstone, make_project, rows

NOISY = """
    import os, subprocess, sys
    from flowstone_cli import asset

    @asset
    def noisy():
        print("from print")
        os.write(1, b"from os.write\\n")
        subprocess.run([sys.executable, "-c", "print('from a subprocess')"], check=True)
        return 1

    @asset
    def after(noisy):
        os.write(1, b"{not json\\n")
        return noisy + 1
"""


@pytest.mark.parametrize("executor", ["process", "inline"])
def test_output_of_steps_on_fd_1_goes_to_their_log_not_into_json_output(
        tmp_path: Path, executor: str) -> None:
    project = make_project(tmp_path / "project", {"noisy": NOISY})
    result = flowstone(project, "materialize", "*", "--executor", executor, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert {s["status"] for s in summary["steps"]} == {"succeeded"}
    logged = {m for (m,) in rows(project, "SELECT message FROM events WHERE kind = 'log'")}
    assert {"stdout: from print", "stdout: from os.write", "stdout: from a subprocess",
            "stdout: {not json"} <= logged


FLOOD = """
    from flowstone_cli import asset

    @asset
    def chatty(context):
        for i in range(200_000):
            context.log.info(f"line {i}")
        return 1

    @asset
    def huge_error():
        raise ValueError("x" * 50_000_000)
"""


def test_a_log_flood_is_capped_and_a_huge_error_message_is_cut(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"flood": FLOOD})
    result = flowstone(project, "materialize", "*", timeout=300)
    assert result.code == 1, result.stderr[-2000:]
    logs = rows(project, "SELECT message FROM events WHERE kind = 'log' AND asset = 'chatty' "
                         "ORDER BY ts, message")
    assert len(logs) == 1001
    assert ("199000 earlier log lines of this step were dropped (only the last 1000 are "
            "kept)",) in logs
    assert ("line 199999",) in logs and ("line 198999",) not in logs
    (message, trace), = rows(project, "SELECT error_message, traceback FROM steps WHERE "
                                      "asset = 'huge_error'")
    assert len(message) < 3000 and message.endswith("more characters cut]")
    assert len(trace) < 25000
    # Printed cut, not twice in full.
    assert len(result.stdout) + len(result.stderr) < 20_000
    assert "more characters cut]" in result.stderr

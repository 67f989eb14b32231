"""A detached run that dies before it records itself is still recorded as failed and notified."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowstone_cli.api.automation import run_tick
from flowstone_cli.automation.receipts import LaunchReceipt, read_receipts, write_receipt
from flowstone_cli.project.loader import load_project
from tests.approvals.webhook_server import WebhookServer
from tests.cli_runner import copy_fixture, run_cli

DEADLINE = 180.0  # seconds; the machine may be very loaded
NOW = "2025-01-16T02:05:00Z"  # every tick at the same time: only one fire time is ever due


def _failed_runs(project: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    listed = run_cli("-p", str(project), "runs", "list", "--status", "failed", "--json", env=env)
    assert listed.code == 0, listed.stderr
    data = listed.json()
    return data if isinstance(data, list) else data["runs"]


def _tick_until_failed(project: Path, env: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    """Tick (as cron would, every so often) until the run shows as failed."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        assert run_cli("-p", str(project), "tick", "--now", NOW, env=env).code == 0
        failed = _failed_runs(project, env)
        if any(run["run_id"] == run_id for run in failed):
            return failed
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never showed as failed")


def test_check_catches_a_schedule_without_partitions_for_a_partitioned_target(
        tmp_path: Path) -> None:
    project = copy_fixture("failing_schedule", tmp_path)
    result = run_cli("-p", str(project), "check")
    assert result.code == 2
    assert "schedule `broken` targets partitioned asset `daily`" in result.stdout + result.stderr
    assert "jobs.py:10" in result.stdout + result.stderr


def test_a_scheduled_run_failing_at_start_up_is_recorded_and_notified(tmp_path: Path) -> None:
    project = copy_fixture("failing_schedule", tmp_path)
    with WebhookServer() as server:
        env = {"RUN_WEBHOOK": server.url}
        tick = run_cli("-p", str(project), "tick", "--now", NOW, "--json", env=env)
        assert tick.code == 0, tick.stderr
        launched = [a for a in tick.json()["actions"] if a["outcome"] == "launched"]
        assert len(launched) == 1
        run_id = launched[0]["run_id"]
        failed = _tick_until_failed(project, env, run_id)
        run = next(r for r in failed if r["run_id"] == run_id)
        assert run["trigger"] == "schedule:broken"
        log = project / ".flowstone" / "logs" / f"{run_id}.log"
        assert run["summary"]["log"] == str(log)
        assert "say which partitions to run" in run["summary"]["error"]
        deadline = time.monotonic() + DEADLINE  # the process prints its error as it exits
        while "say which partitions to run" not in log.read_text() and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        assert "say which partitions to run" in log.read_text()
        shown = run_cli("-p", str(project), "runs", "show", run_id, env=env)
        assert shown.code == 0, shown.stderr
        assert "failed" in shown.stdout and str(log) in shown.stdout
        assert "say which partitions to run" in shown.stdout  # the error line
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and not server.received:
            time.sleep(0.2)
        notified = [m for m in server.received if m["event"] == "run_failed"]
        assert [(m["run_id"], m["trigger"], m["log"]) for m in notified] == [
            (run_id, "schedule:broken", str(log))]
        assert "say which partitions to run" in notified[0]["error"]
        # Later ticks neither record it again nor notify twice.
        assert run_cli("-p", str(project), "tick", "--now", NOW, env=env).code == 0
        assert [r["run_id"] for r in _failed_runs(project, env)].count(run_id) == 1
        assert len([m for m in server.received if m["event"] == "run_failed"]) == 1
        assert list(read_receipts(project)) == []


def test_a_killed_launch_is_recorded_failed_and_a_live_one_is_left_alone(tmp_path: Path) -> None:
    project = copy_fixture("failing_schedule", tmp_path)
    (project / ".flowstone" / "logs").mkdir(parents=True)
    log = project / ".flowstone" / "logs" / "killed.log"
    log.write_text("loading project...\n", encoding="utf-8")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)",
                              "run-alive"])
    try:
        now = datetime.now(UTC).isoformat()
        for run_id, pid in (("run-killed", dead.pid), ("run-alive", alive.pid)):
            write_receipt(project, LaunchReceipt(
                run_id=run_id, pid=pid, host=socket.gethostname(),
                trigger="sensor:drops", selection="daily", partitions=("2025-01-15",),
                command="flowstone materialize daily", log=str(log), launched_at=now))
        report = run_tick(load_project(project, {}), dry_run=False,
                          launcher=lambda root, request: "unused")
        recorded = [a for a in report.actions if a.outcome == "failed_at_start"]
        assert [(a.run_id, a.source) for a in recorded] == [("run-killed", "sensor:drops")]
        assert [r.run_id for r in read_receipts(project)] == ["run-alive"]
        shown = run_cli("-p", str(project), "runs", "show", "run-killed", "--json").json()
        assert shown["status"] == "failed"
        assert "loading project..." in shown["summary"]["log_tail"]
    finally:
        alive.kill()
        alive.wait()


def test_a_launched_run_that_cannot_start_records_its_own_failure(tmp_path: Path) -> None:
    project = copy_fixture("failing_schedule", tmp_path)
    with WebhookServer() as server:
        env = {"RUN_WEBHOOK": server.url}
        started = run_cli("-p", str(project), "materialize", "daily", "--run-id", "run-broken",
                          "--trigger", "schedule:broken", env=env)
        assert started.code == 2 and "say which partitions to run" in started.stderr
        shown = run_cli("-p", str(project), "runs", "show", "run-broken", "--json", env=env)
        assert shown.code == 0, shown.stderr
        run = shown.json()
        assert (run["status"], run["trigger"]) == ("failed", "schedule:broken")
        assert "say which partitions to run" in run["summary"]["error"]
        assert [(m["event"], m["run_id"]) for m in server.received] == [
            ("run_failed", "run-broken")]
        # A run started by hand (trigger cli) that cannot start is an input error, not a run.
        by_hand = run_cli("-p", str(project), "materialize", "daily", env=env)
        assert by_hand.code == 2
        assert [r["run_id"] for r in _failed_runs(project, env)] == ["run-broken"]

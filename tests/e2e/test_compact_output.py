"""Compact output without a terminal: a line per step that ran, one closing counts line."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.cli_runner import run_cli

ASSETS = '''\
from flowstone_cli import DailyPartitions, asset


@asset(partitions=DailyPartitions(start="2024-01-01"))
def readings(context):
    return {"day": context.partition}
'''


def _project(tmp_path: Path) -> str:
    project = tmp_path / "daily"
    (project / "assets").mkdir(parents=True)
    (project / "flowstone.toml").write_text('[project]\nname = "daily"\n\n[executor]\n'
                                            'type = "inline"\n')
    (project / "assets" / "readings.py").write_text(ASSETS)
    return str(project)


def test_an_up_to_date_365_day_backfill_prints_under_5_lines(tmp_path: Path) -> None:
    project = _project(tmp_path)
    span = ("--from", "2024-01-01", "--to", "2024-12-30")  # 365 days of a leap year
    first = run_cli("-p", project, "backfill", "readings", *span, timeout=900)
    assert first.code == 0, first.stderr
    ran = [ln for ln in first.stdout.splitlines() if "succeeded in" in ln and "/365 " in ln]
    assert len(ran) == 365  # a line per step that ran
    again = run_cli("-p", project, "backfill", "readings", *span, timeout=900)
    assert again.code == 0, again.stderr
    lines = [ln for ln in (again.stdout + again.stderr).splitlines() if ln.strip()]
    assert len(lines) < 5, lines
    assert re.search(r"run \S+ succeeded: 365 up to date in \d+\.\ds$", again.stdout, re.M), \
        again.stdout
    verbose = run_cli("-p", project, "backfill", "readings", *span, "-v", timeout=900)
    assert verbose.code == 0
    assert sum("up to date" in ln and "/365 " in ln for ln in verbose.stdout.splitlines()) == 365


def test_materialize_closing_line_counts_each_status(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = run_cli("-p", project, "materialize", "readings", "--partitions",
                    "2024-01-01..2024-01-03")
    assert first.code == 0, first.stderr
    assert re.search(r"succeeded: 3 succeeded in \d+\.\ds$", first.stdout, re.M), first.stdout
    second = run_cli("-p", project, "materialize", "readings", "--partitions",
                     "2024-01-01..2024-01-04")
    assert second.code == 0
    out = second.stdout.splitlines()
    assert sum("/4 " in ln for ln in out) == 1  # only the step that ran has a line
    assert re.search(r"succeeded: 1 succeeded, 3 up to date in \d+\.\ds$", second.stdout, re.M)


def test_the_summary_and_runs_list_give_the_same_duration(tmp_path: Path) -> None:
    from datetime import datetime

    project = _project(tmp_path)
    (Path(project) / "flowstone.toml").write_text('[project]\nname = "daily"\n')  # process pool
    for _ in range(2):  # a fresh store, then one with history
        run = run_cli("-p", project, "materialize", "readings", "--partitions",
                      "2024-01-01..2024-01-05", "--force", "--json")
        assert run.code == 0, run.stderr
        summary = run.json()
        listed = {r["run_id"]: r for r in run_cli("-p", project, "runs", "list",
                                                   "--json").json()}[summary["run_id"]]
        recorded = (datetime.fromisoformat(listed["ended_at"])
                    - datetime.fromisoformat(listed["started_at"])).total_seconds()
        assert round(recorded, 3) == summary["duration_s"]
    printed = run_cli("-p", project, "materialize", "readings", "--partitions",
                      "2024-01-01..2024-01-05", "--force")
    took = re.search(r"^run (\S+) succeeded: 5 succeeded in (\d+\.\ds)$", printed.stdout, re.M)
    assert took, printed.stdout
    listed = run_cli("-p", project, "runs", "list").stdout
    row = next(ln for ln in listed.splitlines() if ln.startswith(took.group(1)))
    assert f"\t{took.group(2)}\t" in row, (took.group(0), row)


def test_approve_and_reject_print_the_decision_and_the_resumed_run_in_a_few_lines(
        tmp_path: Path) -> None:
    from tests.cli_runner import copy_fixture

    for verb, extra in (("approve", ()), ("reject", ("--reason", "numbers are wrong"))):
        project = str(copy_fixture("approvals", tmp_path / verb))
        run_cli("-p", project, "materialize", "*")
        request = run_cli("-p", project, "checkpoints", "list", "--status", "pending",
                          "--json").json()[0]["request_id"]
        decided = run_cli("-p", project, verb, request, "--by", "alice", *extra)
        assert decided.code == 0, decided.stderr
        lines = [ln for ln in decided.stdout.splitlines() if ln.strip()]
        assert len(lines) <= 3, lines
        outcome = "approved" if verb == "approve" else "rejected"
        assert lines[0].startswith(f"{request} (review): {outcome} by alice"), lines
        assert re.fullmatch(r"run \S+ succeeded: .* in \d+\.\ds", lines[-1]), lines
    assert lines[0].endswith(": numbers are wrong")


SLOW = '''\
import time
from pathlib import Path
from flowstone_cli import DailyPartitions, asset


@asset(partitions=DailyPartitions(start="2024-01-01"))
def slow(context):
    Path(__file__).with_name("started").touch()
    time.sleep(1)
    return context.partition
'''


def test_ctrl_c_of_a_backfill_prints_the_command_that_resumes_it(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    from tests.cli_runner import flowstone_executable

    project = tmp_path / "slow"
    (project / "assets").mkdir(parents=True)
    (project / "flowstone.toml").write_text('[project]\nname = "slow"\n')
    (project / "assets" / "slow.py").write_text(SLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "backfill", "slow",
                             "--from", "2024-01-01", "--to", "2024-01-08"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = project / "assets" / "started"
    deadline = time.monotonic() + 300
    while not started.exists():  # wait until a step runs, however busy the machine
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    resume = re.search(r"^resume it with: (flowstone backfill resume (bf-\S+))$", out, re.M)
    assert resume, out
    finished = run_cli("-p", str(project), *resume.group(1).split()[1:], timeout=600)
    assert finished.code == 0, finished.stdout + finished.stderr
    shown = run_cli("-p", str(project), "backfill", "show", resume.group(2), "--json").json()
    assert shown["backfill"]["status"] == "succeeded", shown

"""`flowstone materialize` end to end: the real command in a subprocess on real projects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.cli_runner import copy_example, copy_fixture, flowstone_executable, run_cli


DAY = ("+daily_report", "--partition", "2025-01-15")


def statuses(result_json: dict) -> dict[str, str]:
    return {s["asset"]: s["status"] for s in result_json["steps"]}


def test_example_materializes_then_skips_then_forces(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    first = run_cli("-p", str(project), "materialize", *DAY, "--json")
    assert first.code == 0, first.stderr
    assert set(statuses(first.json()).values()) == {"succeeded"}
    second = run_cli("-p", str(project), "materialize", *DAY, "--json")
    assert second.code == 0
    assert set(statuses(second.json()).values()) == {"up_to_date"}
    forced = run_cli("-p", str(project), "materialize", *DAY, "--force", "--json")
    assert forced.code == 0
    assert set(statuses(forced.json()).values()) == {"succeeded"}
    report = json.loads((project / "data" / "daily_report" / "2025-01-15.json").read_text())
    assert report["best_country"] in {"DE", "FR", "US", "JP"}


def test_editing_one_asset_reruns_only_it_and_its_downstream(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    assert run_cli("-p", str(project), "materialize", *DAY).code == 0
    module = project / "assets" / "analytics.py"
    module.write_text(module.read_text().replace(
        'context.log.info(f"{context.partition}: best country {best}")',
        'context.log.info(f"{context.partition}: the best country is {best}")'))
    plan = run_cli("-p", str(project), "plan", *DAY, "--json").json()
    actions = {s["asset"]: (s["action"], s["reason"]) for s in plan["steps"]}
    assert actions["daily_report"] == ("run", "code changed")
    assert actions["daily_metrics"] == ("skip", "up to date")
    run = run_cli("-p", str(project), "materialize", *DAY, "--json")
    assert statuses(run.json()) == {"raw_events": "up_to_date", "user_profiles": "up_to_date",
                                    "cleaned_events": "up_to_date",
                                    "daily_metrics": "up_to_date", "daily_report": "succeeded"}


def test_docstring_edit_changes_nothing(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    assert run_cli("-p", str(project), "materialize", *DAY).code == 0
    module = project / "assets" / "ingest.py"
    module.write_text(module.read_text().replace(
        '"""User profiles exported from the CRM (not partitioned: every day reads the same)."""',
        '"""User profiles, exported nightly."""'))
    run = run_cli("-p", str(project), "materialize", *DAY, "--json")
    assert set(statuses(run.json()).values()) == {"up_to_date"}


def test_failure_skips_downstream_and_independent_branch_completes(tmp_path: Path) -> None:
    project = copy_fixture("failing", tmp_path)
    result = run_cli("-p", str(project), "materialize", "*", "--json")
    assert result.code == 1
    summary = result.json()
    assert summary["status"] == "failed"
    got = statuses(summary)
    assert got["broken"] == "failed"
    assert got["after_broken"] == "skipped"
    assert got["independent"] == "succeeded" and got["further"] == "succeeded"
    skipped = next(s for s in summary["steps"] if s["asset"] == "after_broken")
    assert skipped["reason"] == "upstream broken failed"
    shown = run_cli("-p", str(project), "runs", "show", summary["run_id"])
    assert shown.code == 0
    assert "ValueError: the source had a bad row" in shown.stdout
    assert "Traceback (most recent call last)" in shown.stdout
    assert 'raise ValueError("the source had a bad row")' in shown.stdout


def test_failure_message_without_json(tmp_path: Path) -> None:
    project = copy_fixture("failing", tmp_path)
    result = run_cli("-p", str(project), "materialize", "broken", "+source")
    assert result.code == 1
    assert "error: broken: ValueError: the source had a bad row" in result.stderr
    assert "Traceback" not in result.stderr


def test_retries_record_every_attempt(tmp_path: Path) -> None:
    project = copy_fixture("failing", tmp_path)
    marker = tmp_path / "attempts"
    result = run_cli("-p", str(project), "materialize", "+flaky", "--tag", f"marker={marker}",
                     "--json")
    assert result.code == 0, result.stdout + result.stderr
    details = run_cli("-p", str(project), "runs", "show", result.json()["run_id"],
                      "--json").json()
    flaky = [(s["attempt"], s["status"]) for s in details["steps"] if s["asset"] == "flaky"]
    assert flaky == [(1, "failed"), (2, "failed"), (3, "succeeded")]


def test_fail_fast_stops_scheduling_after_first_failure(tmp_path: Path) -> None:
    project = copy_fixture("failing", tmp_path)
    result = run_cli("-p", str(project), "materialize", "*", "--fail-fast", "--executor",
                     "inline", "--json")
    assert result.code == 1
    got = statuses(result.json())
    assert got["broken"] == "failed"
    assert "skipped" in {got["independent"], got["further"]} or got["further"] == "skipped"


def test_resources_custom_io_manager_and_secret_redaction(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    log = tmp_path / "setup.log"
    env = {"COUNTER_TOKEN": "tok-secret-123", "COUNTER_SETUP_LOG": str(log)}
    result = run_cli("-p", str(project), "materialize", "*", "--json", env=env)
    assert result.code == 0, result.stderr
    assert (project / "data" / "shout.txt").read_text() == "VALUE IS DEFAULT:11"
    lines = log.read_text().splitlines()
    setups = [line for line in lines if line.startswith("setup")]
    teardowns = [line for line in lines if line.startswith("teardown")]
    assert setups and len(setups) == len(set(setups)), "one setup per worker process"
    assert sorted(s.split()[1] for s in setups) == sorted(t.split()[1] for t in teardowns)
    health = run_cli("-p", str(project), "resources", "check", "--json", env=env)
    assert health.code == 0 and health.json()[0]["healthy"] is True
    # The secret never reaches output or the metadata store.
    shown = run_cli("-p", str(project), "runs", "show", result.json()["run_id"], "--json",
                    env=env)
    assert "tok-secret-123" not in shown.stdout + result.stdout + health.stdout
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as con:
        dump = json.dumps(con.execute("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM runs").fetchall(), default=str)
        dump += json.dumps(con.execute("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM events").fetchall(), default=str)
    assert "tok-secret-123" not in dump


def test_missing_secret_variable_is_a_clear_error(tmp_path: Path) -> None:
    project = copy_fixture("resources", tmp_path)
    result = run_cli("-p", str(project), "check")
    assert result.code == 2
    assert "COUNTER_TOKEN is not set" in result.stderr


def test_memory_io_manager_needs_the_inline_executor(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    module = project / "assets" / "pipeline.py"
    module.write_text(module.read_text().replace('@asset(group="math")',
                                                 '@asset(group="math", io_manager="memory")'))
    checked = run_cli("-p", str(project), "check")
    assert checked.code == 2 and "in-memory I/O manager" in checked.stderr
    inline = run_cli("-p", str(project), "materialize", "*", "--executor", "inline", "--json")
    assert inline.code == 0, inline.stderr
    process = run_cli("-p", str(project), "materialize", "*", "--force", "--executor",
                      "process")
    assert process.code == 2 and "--executor inline" in process.stderr


def test_context_log_messages_appear_in_runs_logs(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    result = run_cli("-p", str(project), "materialize", "+cleaned_events", "--partition",
                     "2025-01-15", "--json")
    logs = run_cli("-p", str(project), "runs", "logs", result.json()["run_id"])
    assert logs.code == 0
    assert "raw_events[2025-01-15]: fetched 400 events for 2025-01-15" in logs.stdout
    assert "cleaned_events[2025-01-15]: kept" in logs.stdout


def test_plain_output_has_one_line_per_finished_step(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    result = run_cli("-p", str(project), "materialize", "*")
    assert result.code == 0
    step_lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(step_lines) == 3
    assert result.stdout.strip().splitlines()[-1].startswith("run ")


def test_runs_list_answers_during_a_long_materialize(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    release = tmp_path / "release"
    (project / "assets" / "slow.py").write_text(
        "import time\nfrom pathlib import Path\nfrom flowstone_cli import asset\n\n@asset\n"
        "def slow():\n"
        f"    while not Path({str(release)!r}).exists():\n"
        "        time.sleep(0.05)\n"
        "    return 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "materialize", "*"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        # While the run holds its step open, `runs list` answers (it never waits for the run).
        deadline = time.monotonic() + 120
        runs: list = []
        while time.monotonic() < deadline and not runs:
            listed = run_cli("-p", str(project), "runs", "list", "--json")
            assert listed.code == 0, listed.stderr
            runs = listed.json()
            if not runs:
                time.sleep(0.2)
        assert runs and runs[0]["status"] == "running"
    finally:
        release.touch()
        proc.wait(timeout=120)
    assert proc.returncode == 0


def test_ctrl_c_cancels_the_run(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    started = tmp_path / "started"
    (project / "assets" / "slow.py").write_text(
        "import time\nfrom pathlib import Path\nfrom flowstone_cli import asset\n\n@asset\n"
        f"def slow():\n    Path({str(started)!r}).touch()\n"
        "    time.sleep(60)\n    return 1\n\n@asset\ndef after(slow):\n    return slow\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "materialize", "*",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    deadline = time.monotonic() + 120  # wait until the step runs, however busy the machine
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert started.exists(), "the slow step never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "canceled"
    got = statuses(summary)
    assert got["slow"] == "canceled" and got["after"] == "canceled"
    listed = run_cli("-p", str(project), "runs", "list", "--json").json()
    assert listed[0]["status"] == "canceled"


@pytest.mark.usefixtures("s3_bucket")
def test_parquet_pipeline_on_s3_and_half_written_value_publishes_nothing(
        tmp_path: Path, s3_bucket) -> None:
    project = copy_fixture("s3_pipeline", tmp_path)
    env = {"BUCKET": s3_bucket.bucket, "S3_ENDPOINT": s3_bucket.endpoint_url,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    ok = run_cli("-p", str(project), "materialize", "*", "--json", env=env)
    assert ok.code == 0, ok.stdout + ok.stderr
    fs = s3_bucket.fs
    fs.invalidate_cache()
    assert fs.exists(f"{s3_bucket.bucket}/lake/numbers.parquet")
    assert fs.exists(f"{s3_bucket.bucket}/lake/evens.parquet")
    fs.rm(f"{s3_bucket.bucket}/lake/half_written.pkl")
    failing = run_cli("-p", str(project), "materialize", "half_written", "--force", "--json",
                      env={**env, "HALF_WRITTEN_FAILS": "1"})
    assert failing.code == 1
    step = next(s for s in failing.json()["steps"] if s["asset"] == "half_written")
    assert step["status"] == "failed"
    fs.invalidate_cache()
    assert not fs.exists(f"{s3_bucket.bucket}/lake/half_written.pkl")
    assert (project / ".flowstone" / "flowstone.duckdb").exists()


def test_a_held_metadata_store_gives_exit_4_naming_the_pid(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    (project / "flowstone.toml").write_text('[project]\nname = "minimal"\n\n[metadata]\n'
                                            'lock_timeout = 0.5\n')
    assert run_cli("-p", str(project), "materialize", "*").code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(project / 'data' / 'flowstone.duckdb')!r})\n"
         "print('held', flush=True)\ntime.sleep(30)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_cli("-p", str(project), "runs", "list")
        assert result.code == 4
        assert str(holder.pid) in result.stderr
        assert "busy" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("-p", str(project), "runs", "list").code == 0

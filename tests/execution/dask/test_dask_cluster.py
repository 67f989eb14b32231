"""The Dask executor on a real cluster of separate `dask scheduler` / `dask worker` processes
on 127.0.0.1, with values on moto's S3 server: same values and metadata as the process
executor, a worker killed mid-step, the scheduler killed mid-run, timeouts, secrets on workers."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import copy_fixture, flowstone_executable, run_cli
from tests.execution.dask.conftest import DaskProcesses, start_cluster, worker_env

pytestmark = pytest.mark.slow

DAYS = ("--from", "2025-01-01", "--to", "2025-01-03")


def reset_bucket(s3_bucket: Any) -> None:
    """Empty the S3 server and create the bucket again (both runs write the same keys)."""
    request = urllib.request.Request(f"{s3_bucket.endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    s3_bucket.fs.invalidate_cache()
    s3_bucket.fs.mkdir(s3_bucket.bucket)


def steps(project: Path, env: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    shown = run_cli("-p", str(project), "runs", "show", run_id, "--json", env=env)
    assert shown.code == 0, shown.stderr
    return shown.json()["steps"]


def materializations(project: Path, env: dict[str, str], run_id: str) -> dict:
    """(asset, partition) -> what a consumer compares: status, content hash, rows, size."""
    return {(s["asset"], s["partition"]): (s["status"], s["data_version"], s["rows"],
                                           s["size_bytes"], s["uri"])
            for s in steps(project, env, run_id) if s["status"] == "succeeded"}


def wait_for(path: Path, what: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened ({path} missing)")


def content_hash(s3_bucket: Any, uri: str) -> str:
    s3_bucket.fs.invalidate_cache()
    return hashlib.sha256(s3_bucket.fs.cat_file(uri)).hexdigest()


def test_backfill_on_dask_processes_equals_the_process_executor(
        tmp_path: Path, s3_bucket: Any, dask_cluster: DaskProcesses, markers: Path) -> None:
    env = worker_env(s3_bucket.endpoint_url, markers)
    first = copy_fixture("dask_s3", tmp_path / "process")
    ran = run_cli("-p", str(first), "backfill", "+report", *DAYS, "--executor", "process",
                  "--json", env=env, timeout=300)
    assert ran.code == 0, ran.stdout + ran.stderr
    expected = materializations(first, env, ran.json()["run_id"])
    reset_bucket(s3_bucket)
    second = copy_fixture("dask_s3", tmp_path / "dask")
    ran = run_cli("-p", str(second), "backfill", "+report", *DAYS, "--dask-address",
                  dask_cluster.address, "--json", env=env, timeout=300)
    assert ran.code == 0, ran.stdout + ran.stderr
    run_id = ran.json()["run_id"]
    assert materializations(second, env, run_id) == expected
    assert len(expected) == 9
    recorded = steps(second, env, run_id)
    workers = {s["metadata"]["worker"] for s in recorded}
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    for step in recorded:  # every value is there, whole, with the recorded content hash
        assert content_hash(s3_bucket, step["uri"]) == step["data_version"]
    shown = run_cli("-p", str(second), "runs", "show", run_id, env=env)
    assert "worker" in shown.stdout and "tcp://127.0.0.1:" in shown.stdout
    logs = run_cli("-p", str(second), "runs", "logs", run_id, env=env)
    assert "report of 2025-01-02" in logs.stdout


def test_a_worker_killed_mid_step_records_every_step_once(
        tmp_path: Path, s3_bucket: Any, dask_cluster: DaskProcesses, markers: Path) -> None:
    env = worker_env(s3_bucket.endpoint_url, markers)
    project = copy_fixture("dask_s3", tmp_path)
    hold = markers / "hold-summary-2025-01-02"
    running = markers / "running-summary-2025-01-02"
    running.unlink(missing_ok=True)
    hold.write_text("held")
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "backfill", "+report",
                             *DAYS, "--dask-address", dask_cluster.address, "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pid = int(wait_for(running, "the held step starting"))
        os.kill(pid, signal.SIGKILL)  # killed while held: it is the step that dies
        hold.unlink()  # the re-run (Dask moves the task to a live worker) goes straight on
        out, err = proc.communicate(timeout=300)
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    run_id = json.loads(out)["run_id"]
    recorded = steps(project, env, run_id)
    keys = [(s["asset"], s["partition"]) for s in recorded if s["status"] == "succeeded"]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 9
    # Whatever Dask re-ran, one value per step was published, whole: its bytes hash to the
    # recorded content hash.
    for step in recorded:
        if step["status"] == "succeeded":
            assert content_hash(s3_bucket, step["uri"]) == step["data_version"]
    leftovers = [p for p in s3_bucket.fs.find(f"{s3_bucket.bucket}/lake")
                 if ".tmp" in p or "/." in p]
    assert leftovers == []


def test_scheduler_killed_mid_run_fails_clearly_and_resume_finishes_on_a_new_cluster(
        tmp_path: Path, s3_bucket: Any, markers: Path) -> None:
    env = worker_env(s3_bucket.endpoint_url, markers)
    cluster = start_cluster(env, tmp_path / "first")
    project = copy_fixture("dask_s3", tmp_path)
    hold = markers / "hold-summary-2025-01-03"
    running = markers / "running-summary-2025-01-03"
    running.unlink(missing_ok=True)
    hold.write_text("held")
    try:
        proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "materialize",
                                 "+report", "--partitions", "2025-01-01..2025-01-03",
                                 "--dask-address", cluster.address],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        wait_for(running, "the held step starting")
        os.killpg(cluster.scheduler.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        hold.unlink(missing_ok=True)
        cluster.stop()
    assert proc.returncode == 1, out + err
    assert "scheduler" in err and "went away" in err and "runs resume" in err
    listed = run_cli("-p", str(project), "runs", "list", "--json", env=env).json()
    first = {"run_id": listed[0]["run_id"]}
    assert listed[0]["status"] == "failed"
    first_steps = steps(project, env, first["run_id"])
    done = {(s["asset"], s["partition"]) for s in first_steps if s["status"] == "succeeded"}
    assert ("summary", "2025-01-03") not in done
    assert ("readings", "2025-01-03") in done
    again = start_cluster(env, tmp_path / "second")
    try:
        resumed = run_cli("-p", str(project), "runs", "resume", first["run_id"], "--executor",
                          "dask", "--dask-address", again.address, "--json", env=env,
                          timeout=300)
    finally:
        again.stop()
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    redone = {(s["asset"], s["partition"])
              for s in steps(project, env, resumed.json()["run_id"])
              if s["status"] == "succeeded"}
    assert ("summary", "2025-01-03") in redone and ("report", "2025-01-03") in redone
    assert not redone & done


def test_step_timeout_is_enforced_on_the_worker(
        tmp_path: Path, s3_bucket: Any, dask_cluster: DaskProcesses, markers: Path) -> None:
    env = worker_env(s3_bucket.endpoint_url, markers)
    project = copy_fixture("dask_s3", tmp_path)
    ran = run_cli("-p", str(project), "materialize", "sleepy", "--dask-address",
                  dask_cluster.address, "--json", env=env, timeout=300)
    assert ran.code == 1, ran.stdout + ran.stderr
    (step,) = [s for s in ran.json()["steps"] if s["asset"] == "sleepy"]
    assert step["status"] == "timed_out"
    assert "timeout of 3s" in step["reason"]
    recorded = steps(project, env, ran.json()["run_id"])
    assert [s["status"] for s in recorded] == ["timed_out"]


def test_a_variable_missing_on_the_workers_is_a_step_error_naming_it(
        tmp_path: Path, s3_bucket: Any, dask_cluster: DaskProcesses, markers: Path) -> None:
    env = worker_env(s3_bucket.endpoint_url, markers)
    project = copy_fixture("dask_s3", tmp_path)
    with (project / "flowstone.toml").open("a") as toml:
        toml.write('\n[io_managers.archive]\ntype = "pickle"\n'
                   'root = "s3://${BUCKET}/${ONLY_ON_THE_COORDINATOR}"\n')
    ran = run_cli("-p", str(project), "materialize", "readings", "--partition", "2025-01-01",
                  "--dask-address", dask_cluster.address, "--json",
                  env={**env, "ONLY_ON_THE_COORDINATOR": "archive"}, timeout=300)
    assert ran.code == 1, ran.stdout + ran.stderr
    (step,) = ran.json()["steps"]
    assert step["status"] == "failed"
    assert "ONLY_ON_THE_COORDINATOR" in step["reason"]
    assert "could not start on Dask worker" in step["reason"]


def test_runs_cancel_stops_a_run_on_the_cluster(
        tmp_path: Path, s3_bucket: Any, dask_cluster: DaskProcesses, markers: Path) -> None:
    env = worker_env(s3_bucket.endpoint_url, markers)
    project = copy_fixture("dask_s3", tmp_path)
    hold = markers / "hold-summary-2025-01-05"
    running = markers / "running-summary-2025-01-05"
    running.unlink(missing_ok=True)
    hold.write_text("held")
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "materialize",
                             "+report", "--partition", "2025-01-05", "--dask-address",
                             dask_cluster.address, "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(running, "the held step starting")
        run_id = run_cli("-p", str(project), "runs", "list", "--json", env=env).json()[0]["run_id"]
        canceled = run_cli("-p", str(project), "runs", "cancel", run_id, env=env)
        assert canceled.code == 0, canceled.stderr
        out, err = proc.communicate(timeout=120)
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
    summary = json.loads(out)
    assert summary["status"] == "canceled", err
    got = {s["asset"]: s["status"] for s in summary["steps"]}
    assert got == {"readings": "succeeded", "summary": "canceled", "report": "canceled"}

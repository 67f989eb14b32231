"""The Dask executor on a `LocalCluster` of two worker processes that `flowstone` starts itself:
the example project gives the same values and metadata as with the process executor; a worker
killed mid-step is a crashed attempt the retry policy re-runs; plan-time refusals."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import copy_example, copy_fixture, flowstone_executable, run_cli
from tests.execution.dask.conftest import S3_ENV

pytestmark = pytest.mark.slow


def steps(project: Path, run_id: str, env: dict[str, str] | None = None) -> list[dict]:
    shown = run_cli("-p", str(project), "runs", "show", run_id, "--json", env=env)
    assert shown.code == 0, shown.stderr
    return shown.json()["steps"]


def comparable(recorded: list[dict[str, Any]]) -> dict:
    """What must not depend on the executor: per step, status, content hash, rows, size,
    code version, and the step's own metadata (without the worker that ran it)."""
    return {(s["asset"], s["partition"]): (s["status"], s["data_version"], s["rows"],
                                           s["size_bytes"], s["code_version"],
                                           {k: v for k, v in s["metadata"].items()
                                            if k != "worker"})
            for s in recorded}


def test_example_backfill_on_a_local_cluster_equals_the_process_executor(
        tmp_path: Path) -> None:
    selection = ("backfill", "+daily_report", "--from", "2025-01-14", "--to", "2025-01-16")
    results = {}
    for executor in ("process", "dask"):
        project = copy_example(tmp_path / executor)
        ran = run_cli("-p", str(project), *selection, "--executor", executor, "--workers", "2",
                      "--json", timeout=600)
        assert ran.code == 0, ran.stdout + ran.stderr
        results[executor] = (project, ran.json()["run_id"])
    expected = comparable(steps(*results["process"]))
    recorded = steps(*results["dask"])
    assert comparable(recorded) == expected
    assert len(expected) == 13  # user_profiles + 4 assets x 3 days
    workers = {s["metadata"]["worker"] for s in recorded}
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    # Equal content hashes mean equal stored bytes; check one file directly as well.
    for uri in {s["uri"] for s in recorded if s["asset"] == "daily_report"}:
        other = uri.replace(str(results["dask"][0]), str(results["process"][0]))
        assert Path(uri).read_bytes() == Path(other).read_bytes()


def test_a_worker_killed_mid_step_on_a_local_cluster_is_retried_once(
        tmp_path: Path, s3_bucket: Any) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {**S3_ENV, "BUCKET": s3_bucket.bucket, "S3_ENDPOINT": s3_bucket.endpoint_url,
           "DASK_TEST_MARKERS": str(markers)}
    project = copy_fixture("dask_s3", tmp_path)
    hold = markers / "hold-summary-2025-01-02"
    hold.write_text("held")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "backfill", "+report",
                             "--from", "2025-01-01", "--to", "2025-01-03", "--workers", "2",
                             "--json"], env={**environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        running = markers / "running-summary-2025-01-02"
        deadline = time.monotonic() + 300
        while not (running.exists() and running.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.1)
        # Kill before releasing the hold: released first, the held step could finish and the
        # worker start another step that the kill would take down instead.
        os.kill(int(running.read_text()), signal.SIGKILL)
        hold.unlink()
        out, err = proc.communicate(timeout=300)
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    recorded = steps(project, json.loads(out)["run_id"], env)
    attempts = [(s["attempt"], s["status"], s["error_code"]) for s in recorded
                if (s["asset"], s["partition"]) == ("summary", "2025-01-02")]
    assert sorted(attempts) == [(1, "failed", "worker_crashed"), (2, "succeeded", None)]
    succeeded = [(s["asset"], s["partition"]) for s in recorded if s["status"] == "succeeded"]
    assert len(succeeded) == len(set(succeeded)) == 9
    for step in recorded:
        if step["status"] == "succeeded":
            s3_bucket.fs.invalidate_cache()
            assert hashlib.sha256(s3_bucket.fs.cat_file(step["uri"])).hexdigest() == \
                step["data_version"]


def test_local_storage_with_a_remote_scheduler_is_refused_before_anything_runs(
        tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    ran = run_cli("-p", str(project), "materialize", "user_profiles", "--executor", "dask",
                  "--dask-address", "tcp://192.0.2.10:8786")
    assert ran.code == 2, ran.stdout + ran.stderr
    assert "cannot read" in ran.stderr and "s3://" in ran.stderr
    assert not (project / "data" / "flowstone.duckdb").exists()
    (project / "flowstone.toml").write_text(
        (project / "flowstone.toml").read_text().replace(
            '[executor]\ntype = "process"',
            '[executor]\ntype = "dask"\naddress = "${SCHEDULER}"'))
    ran = run_cli("-p", str(project), "materialize", "user_profiles",
                  env={"SCHEDULER": "tcp://192.0.2.10:8786"})
    assert ran.code == 2 and "cannot read" in ran.stderr, ran.stderr


def test_the_memory_io_manager_is_refused_for_dask(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    module = next((project / "assets").glob("*.py"))
    module.write_text(module.read_text().replace('@asset(group="math")',
                                                 '@asset(group="math", io_manager="memory")', 1))
    ran = run_cli("-p", str(project), "materialize", "*", "--executor", "dask")
    assert ran.code == 2, ran.stdout + ran.stderr
    assert "memory" in ran.stderr


def test_without_the_extra_the_error_names_it(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named distributed')\n")
    project = copy_example(tmp_path)
    ran = run_cli("-p", str(project), "materialize", "user_profiles", "--executor", "dask",
                  env={"PYTHONPATH": str(tmp_path / "shadow")})
    assert ran.code == 2, ran.stdout + ran.stderr
    assert "pip install 'flowstone-cli[dask]'" in ran.stderr


def test_dask_address_needs_the_dask_executor(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    ran = run_cli("-p", str(project), "materialize", "user_profiles", "--executor", "process",
                  "--dask-address", "tcp://127.0.0.1:1")
    assert ran.code == 2 and "--executor dask" in ran.stderr


def test_ctrl_c_on_the_terminal_cancels_the_run_and_stops_the_local_cluster(
        tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    markers = tmp_path / "markers"
    markers.mkdir()
    (project / "assets" / "slow.py").write_text(
        "import os, time\nfrom pathlib import Path\nfrom flowstone_cli import asset\n\n"
        "@asset\ndef slow():\n"
        f"    Path({str(markers / 'running')!r}).write_text(str(os.getpid()))\n"
        "    time.sleep(120)\n    return 1\n\n@asset\ndef after(slow):\n    return slow\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    # The whole foreground process group gets SIGINT, as from a terminal's Ctrl-C.
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "materialize", "*",
                             "--executor", "dask", "--workers", "2", "--json"],
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        running = markers / "running"
        deadline = time.monotonic() + 300
        while not (running.exists() and running.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        worker_pid = int(running.read_text())
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "canceled"
    got = {s["asset"]: s["status"] for s in summary["steps"]}
    assert got["slow"] == "canceled" and got["after"] == "canceled"
    deadline = time.monotonic() + 60
    while _alive(worker_pid):  # the cluster started for the run is gone with it
        assert time.monotonic() < deadline, "a local Dask worker outlived the run"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    from tests.execution.dask.conftest import free_port

    project = copy_example(tmp_path)
    ran = run_cli("-p", str(project), "materialize", "user_profiles", "--executor", "dask",
                  "--dask-address", f"tcp://127.0.0.1:{free_port()}", timeout=300)
    assert ran.code == 1, ran.stdout + ran.stderr
    assert "cannot reach the Dask scheduler" in ran.stderr and "Traceback" not in ran.stderr


def test_a_step_past_its_timeout_on_a_local_cluster_is_recorded_timed_out(
        tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    (project / "assets" / "slow.py").write_text(
        "import time\nfrom flowstone_cli import asset\n\n@asset(timeout='2s')\ndef slow():\n"
        "    time.sleep(120)\n    return 1\n\n@asset\ndef after(slow):\n    return slow\n")
    ran = run_cli("-p", str(project), "materialize", "slow+", "--executor", "dask",
                  "--workers", "2", "--json", timeout=300)
    assert ran.code == 1, ran.stdout + ran.stderr
    got = {s["asset"]: (s["status"], s["reason"]) for s in ran.json()["steps"]}
    assert got["slow"][0] == "timed_out" and "timeout of 2s" in got["slow"][1]
    assert got["after"][0] == "skipped"

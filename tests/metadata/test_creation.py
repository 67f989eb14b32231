"""The metadata file is created atomically: a kill during creation never leaves a torn store."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.store import MetadataStore

REPO_ROOT = Path(__file__).resolve().parents[2]
CREATE = """
import sys
import duckdb  # imported first, so that the kill lands while the file is being created
from flowstone_cli.metadata.store import MetadataStore
print("ready", flush=True)
with MetadataStore(sys.argv[1]).writer() as writer:
    pass
"""


def test_an_empty_file_left_by_a_killed_creation_reads_as_empty_and_is_replaced(
        tmp_path: Path) -> None:
    path = tmp_path / "flowstone.duckdb"
    path.touch()  # what DuckDB leaves when killed between creating the file and its header
    store = MetadataStore(path)
    assert not store.exists()
    with store.reader() as reader:
        assert reader.list_runs() == []
    with store.writer() as writer:
        writer.insert_run(RunRecord("run-1", RunStatus.SUCCEEDED))
    with store.reader() as reader:
        assert [run.run_id for run in reader.list_runs()] == ["run-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flowstone.duckdb"]


def test_killing_the_creator_at_random_points_never_leaves_an_unusable_store(
        tmp_path: Path) -> None:
    rng = random.Random(12)
    for trial in range(20):
        path = tmp_path / f"trial{trial}" / "flowstone.duckdb"
        proc = subprocess.Popen([sys.executable, "-c", CREATE, str(path)], cwd=REPO_ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.02))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
        store = MetadataStore(path)
        with store.writer() as writer:  # whatever the creator left, the store works
            writer.insert_run(RunRecord("run-1", RunStatus.SUCCEEDED))
        with store.reader() as reader:
            assert [run.run_id for run in reader.list_runs()] == ["run-1"]


def test_concurrent_creators_share_one_store(tmp_path: Path) -> None:
    path = tmp_path / "data" / "flowstone.duckdb"
    procs = [subprocess.Popen([sys.executable, "-c", CREATE, str(path)], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, results
    assert sorted(p.name for p in path.parent.iterdir()) == ["flowstone.duckdb"]
    with MetadataStore(path).reader() as reader:
        assert reader.meta()["schema_version"]

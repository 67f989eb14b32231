"""Failures while writing: exceptions, SIGKILL and a full disk never corrupt or half-write."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from flowstone_cli.errors import MetadataStoreError
from flowstone_cli.metadata import (
    EventLevel,
    EventRecord,
    MetadataStore,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    new_id,
    utcnow,
)

REPO = Path(__file__).resolve().parents[2]
BATCH = 20

WRITE_UNTIL_KILLED = textwrap.dedent(f"""
    import itertools, sys
    from flowstone_cli.metadata import (EventLevel, EventRecord, MetadataStore, new_id, utcnow)
    store, trial = MetadataStore(sys.argv[1]), sys.argv[2]
    for i in itertools.count():
        with store.writer() as w:
            w.insert_events([EventRecord(new_id(), trial, None, utcnow(), EventLevel.INFO,
                                         f"batch-{{i}}", message="x" * 200)
                             for _ in range({BATCH})])
        print(i, flush=True)  # acknowledged: committed before this line is written
""")

# Simulates a full disk: RLIMIT_FSIZE makes writes past the limit fail (EFBIG) like ENOSPC.
FILL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    from flowstone_cli.errors import MetadataStoreError
    from flowstone_cli.metadata import (EventLevel, EventRecord, MetadataStore, new_id, utcnow)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    store = MetadataStore(sys.argv[1])

    def batch(kind, n, size):
        return [EventRecord(new_id(), "run", None, utcnow(), EventLevel.INFO, kind,
                            message="x" * size) for _ in range(n)]

    with store.writer() as w:
        w.insert_events(batch("before", 5, 10))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    result = {}
    try:
        with store.writer() as w:
            w.insert_events(batch("too_big", 5000, 300))
        result["error"] = None
    except MetadataStoreError as exc:
        result["error"] = str(exc)
        result["hint"] = exc.hint
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    with store.writer() as w:  # space is back: the same process can write again
        w.insert_events(batch("after", 5, 10))
    print(json.dumps(result))
""")


def python(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_an_exception_in_a_writer_block_rolls_everything_back(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "flowstone.duckdb")
    with store.writer() as w:
        w.insert_run(RunRecord("kept", RunStatus.RUNNING))
    with pytest.raises(KeyError), store.writer() as w:
        w.insert_run(RunRecord("lost", RunStatus.RUNNING))
        w.insert_steps([StepRecord(new_id(), "lost", "a", None, 1, StepStatus.SUCCEEDED)])
        w.update_run("kept", status=RunStatus.FAILED)
        raise KeyError("boom")
    with store.reader() as r:
        assert [run.run_id for run in r.list_runs()] == ["kept"]
        assert r.get_run("kept").status is RunStatus.RUNNING
        assert r.steps_for_run("lost") == []


def test_an_exception_in_the_very_first_session_leaves_a_usable_store(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "flowstone.duckdb")
    with pytest.raises(RuntimeError), store.writer() as w:
        w.insert_run(RunRecord("lost", RunStatus.RUNNING))
        raise RuntimeError("boom")
    with store.reader() as r:
        assert r.list_runs() == []
    with store.writer() as w:
        w.insert_run(RunRecord("kept", RunStatus.RUNNING))


def test_a_failed_statement_is_a_store_error_and_rolls_back(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "flowstone.duckdb")
    with store.writer() as w:
        w.insert_run(RunRecord("r1", RunStatus.RUNNING))
    with pytest.raises(MetadataStoreError, match="not recorded") as info, store.writer() as w:
        w.insert_events([EventRecord(new_id(), "r1", None, utcnow(), EventLevel.INFO, "x")])
        w.insert_run(RunRecord("r1", RunStatus.RUNNING))  # duplicate primary key
    assert str(store.path) in str(info.value)
    with store.reader() as r:
        assert r.events_for_run("r1") == []


def test_sigkill_while_writing_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.duckdb"
    rng = random.Random(1234)
    for trial in range(3):
        proc = python(WRITE_UNTIL_KILLED, path, f"trial-{trial}")
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the writer is up and committing
        time.sleep(rng.uniform(0.05, 0.8))
        proc.send_signal(signal.SIGKILL)
        rest, stderr = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, stderr
        acknowledged = {f"batch-{line}" for line in (first + rest).split()}
        assert acknowledged, f"trial {trial}: the writer acknowledged nothing ({stderr})"
        with MetadataStore(path).reader() as r:
            counts = Counter(e.kind for e in r.events_for_run(f"trial-{trial}"))
        assert acknowledged <= set(counts), f"trial {trial}: acknowledged batches lost"
        # At most the batch committed just before the kill may be unacknowledged.
        assert len(set(counts) - acknowledged) <= 1
        assert set(counts.values()) == {BATCH}, "a batch was half written"
    with MetadataStore(path).writer() as w:  # still writable
        w.insert_run(RunRecord("after", RunStatus.RUNNING))


def test_a_full_disk_fails_the_commit_cleanly_and_the_store_recovers(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.duckdb"
    proc = python(FILL_DISK, path)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["error"], "the oversized write unexpectedly succeeded"
    assert str(path) in result["error"] and "not recorded" in result["error"]
    assert "disk space" in result["hint"]
    with MetadataStore(path).reader() as r:
        kinds = Counter(e.kind for e in r.events_for_run("run"))
    assert kinds == {"before": 5, "after": 5}

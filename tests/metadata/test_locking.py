"""Several processes on one metadata file: retries, the busy error, no lost or doubled writes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from flowstone_cli.errors import ExitCode, MetadataStoreBusyError
from flowstone_cli.metadata import MetadataStore, RunRecord, RunStatus

REPO = Path(__file__).resolve().parents[2]

HOLD = textwrap.dedent("""
    import sys, time, duckdb
    path, seconds, read_only = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "ro"
    conn = duckdb.connect(path, read_only=read_only)
    print("locked", flush=True)
    time.sleep(seconds)
    conn.close()
""")

WRITE_BATCHES = textwrap.dedent("""
    import sys
    from flowstone_cli.metadata import (EventLevel, EventRecord, MetadataStore, new_id, utcnow)
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = MetadataStore(path, lock_timeout=30)
    for i in range(count):
        with store.writer() as w:
            w.insert_events([EventRecord(new_id(), name, None, utcnow(), EventLevel.INFO,
                                         "batch", message=f"{name}-{i}", data={"part": k})
                             for k in range(3)])
""")


def python(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def hold(path: Path, seconds: float, mode: str = "rw") -> subprocess.Popen[str]:
    proc = python(HOLD, path, seconds, mode)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked", proc.stderr.read() if proc.stderr else ""
    return proc


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "flowstone.duckdb"
    with MetadataStore(path).writer():
        pass
    return path


def test_a_writer_waits_for_another_process_to_release_the_file(path: Path) -> None:
    holder = hold(path, 1.0)
    start = time.monotonic()
    with MetadataStore(path, lock_timeout=20).writer() as w:
        waited = time.monotonic() - start
        w.insert_run(RunRecord("r1", RunStatus.RUNNING))
    assert holder.wait(10) == 0
    assert waited > 0.5
    with MetadataStore(path).reader() as r:
        assert r.get_run("r1")


def test_a_reader_waits_for_a_writer_process(path: Path) -> None:
    holder = hold(path, 0.7)
    with MetadataStore(path, lock_timeout=20).reader() as r:
        assert r.list_runs() == []
    assert holder.wait(10) == 0


def test_busy_past_the_deadline_names_the_holding_pid(path: Path) -> None:
    holder = hold(path, 30)
    try:
        start = time.monotonic()
        with pytest.raises(MetadataStoreBusyError) as info, \
                MetadataStore(path, lock_timeout=0.5).writer():
            pass
        assert time.monotonic() - start >= 0.5  # it waited out its deadline, then gave up
    finally:
        holder.kill()
        holder.wait()
    err = info.value
    assert f"PID {holder.pid}" in str(err)
    assert "busy" in str(err) and str(path) in str(err)
    assert f"ps -p {holder.pid}" in err.hint
    assert err.exit_code == ExitCode.STORE_BUSY == 4
    assert err.retryable


def test_a_waiter_that_gave_up_does_not_keep_the_lock(path: Path) -> None:
    # The wait happens in the kernel (a blocking flock in a helper thread); a wait given up on
    # at the deadline must let go of the lock when it arrives, or this process would hold
    # the store for good.
    holder = hold(path, 30)
    try:
        with pytest.raises(MetadataStoreBusyError), MetadataStore(path, lock_timeout=0.3).writer():
            pass
    finally:
        holder.kill()
        holder.wait()
    writer = python(WRITE_BATCHES, path, "after", 1)  # another process, lock_timeout=30
    _, stderr = writer.communicate(timeout=120)
    assert writer.returncode == 0, stderr
    with MetadataStore(path, lock_timeout=20).writer() as w:  # and this one, again
        w.insert_run(RunRecord("r2", RunStatus.RUNNING))


def test_a_read_only_holder_blocks_a_writer_until_the_deadline(path: Path) -> None:
    holder = hold(path, 30, "ro")
    try:
        with pytest.raises(MetadataStoreBusyError, match=f"PID {holder.pid}"), \
                MetadataStore(path, lock_timeout=0.3).writer():
            pass
    finally:
        holder.kill()
        holder.wait()


def test_busy_error_without_a_pid_in_duckdbs_message_says_unknown() -> None:
    from flowstone_cli.metadata.connection import busy_error
    err = busy_error(Path("/p/x.duckdb"), 'IO Error: Could not set lock on file "/p/x.duckdb"')
    assert "PID unknown" in str(err)


def test_two_processes_writing_concurrently_record_every_batch_once(path: Path) -> None:
    procs = [python(WRITE_BATCHES, path, name, 50) for name in ("one", "two")]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    with MetadataStore(path).reader() as r:
        events = r.events_for_run("one") + r.events_for_run("two")
    per_batch = Counter(e.message for e in events)
    assert len(per_batch) == 100
    assert set(per_batch.values()) == {3}


def test_sessions_do_not_nest_in_one_thread(path: Path) -> None:
    store = MetadataStore(path)
    with store.reader(), pytest.raises(RuntimeError, match="do not nest"), store.writer():
        pass
    with store.writer():  # the gate was released
        pass


def test_threads_of_one_process_take_turns(path: Path) -> None:
    store = MetadataStore(path, lock_timeout=20)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for k in range(5):
                with store.writer() as w:
                    w.insert_run(RunRecord(f"t{i}-{k}", RunStatus.RUNNING))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.reader() as r:
        assert len(r.list_runs(limit=100)) == 15


HOLD_SESSION = textwrap.dedent("""
    import sys, time
    from flowstone_cli.metadata import MetadataStore
    path, seconds = sys.argv[1], float(sys.argv[2])
    with MetadataStore(path).writer():
        print("in session", flush=True)
        time.sleep(seconds)
""")


def test_a_session_lock_spans_the_whole_session_and_names_its_holder(path: Path) -> None:
    # DuckDB alone can lose a transaction committed while another process is still closing the
    # file (flowstone_cli/file_locks.py); FlowStone's sessions hold an flock on the file from
    # before opening it until after closing it.
    import fcntl

    holder = python(HOLD_SESSION, path, 30)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "in session"
        with path.open("rb") as probe:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        with pytest.raises(MetadataStoreBusyError) as info, \
                MetadataStore(path, lock_timeout=0.3).reader():
            pass
        assert f"PID {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    with path.open("rb") as probe:  # the lock went with the process
        fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_readers_share_the_session_lock(path: Path) -> None:
    import fcntl

    with MetadataStore(path).reader() as r:
        with path.open("rb") as probe:
            fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)  # another reader: fine
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # a writer waits
        assert r.list_runs() == []


def test_many_sessions_from_three_processes_lose_no_committed_write(path: Path) -> None:
    procs = [python(WRITE_BATCHES, path, name, 120) for name in ("one", "two", "three")]
    for proc in procs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
    with MetadataStore(path).reader() as r:
        events = [e for name in ("one", "two", "three") for e in r.events_for_run(name)]
    per_batch = Counter(e.message for e in events)
    assert len(per_batch) == 360
    assert set(per_batch.values()) == {3}

"""WorkerPool: real worker processes, real signals, one behaviour per test."""

from __future__ import annotations

import copyreg

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flowstone_cli.execution.pool import (
    PoolEvent,
    TaskCanceled,
    TaskCrashed,
    TaskDone,
    TaskFailed,
    TaskTimedOut,
    WorkerPool,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


# -- task functions: a payload is (action, argument) ------------------------------------------------

class NeedsTwoArgsError(Exception):
    """Pickles, but cannot be rebuilt from its args: breaks ProcessPoolExecutor."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Explicit, so that a library that registers richer exception pickling in this test
        # process (distributed installs tblib's, when a Dask test ran here first) cannot make
        # it rebuildable.
        return (NeedsTwoArgsError, self.args)


def _generator() -> Iterator[int]:
    yield 1


def run(payload: tuple[str, Any]) -> Any:
    action, arg = payload
    if action == "echo":
        return arg
    if action == "sleep":
        time.sleep(arg)
        return arg
    if action == "pid":
        return os.getpid()
    if action == "raise":
        raise ValueError(arg)
    if action == "raise_two_args":
        raise NeedsTwoArgsError("left", "right")
    if action == "return_generator":
        return _generator()
    if action == "return_lambda":
        return lambda: arg
    if action == "return_two_args_error":
        return NeedsTwoArgsError("left", "right")
    if action == "sys_exit":
        sys.exit(arg)
    if action == "keyboard_interrupt":
        raise KeyboardInterrupt
    if action == "os_exit":
        os._exit(arg)
    if action == "sigkill_self":
        os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError(f"unknown action {action}")


@pytest.fixture
def make_pool() -> Iterator[Callable[..., WorkerPool]]:
    pools: list[WorkerPool] = []

    def factory(**kwargs: Any) -> WorkerPool:
        kwargs.setdefault("workers", 2)
        pool = WorkerPool(kwargs.pop("func", run), **kwargs)
        pools.append(pool)
        return pool

    yield factory
    for pool in pools:
        pool.shutdown(kill=True)


def drain(pool: WorkerPool, timeout: float = 120.0) -> dict[str, PoolEvent]:
    """Wait for every pending task; return the events by task id."""
    events: dict[str, PoolEvent] = {}
    end = time.monotonic() + timeout
    while pool.pending:
        assert time.monotonic() < end, f"tasks still pending: {pool.running}"
        for event in pool.wait(timeout=max(0.0, end - time.monotonic())):
            assert event.task_id not in events, f"two events for {event.task_id}"
            events[event.task_id] = event
    return events


def run_one(pool: WorkerPool, task_id: str, payload: Any, **kwargs: Any) -> PoolEvent:
    pool.submit(task_id, payload, **kwargs)
    return drain(pool)[task_id]


def is_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (PID 1 here may never reap orphans)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- results and parallelism --------------------------------------------------------------------

def test_results_come_back_for_many_tasks(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    for i in range(300):
        pool.submit(f"t{i}", ("echo", i * i))
    events = drain(pool)
    assert events == {f"t{i}": TaskDone(f"t{i}", i * i) for i in range(300)}


def test_two_workers_run_tasks_in_parallel(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("a", ("sleep", 0.5))
    pool.submit("b", ("sleep", 0.5))
    # Both run at once, each in its own worker (how fast is for bench/, not for a test).
    assert set(pool.running) == {"a", "b"} and len(set(pool.running.values())) == 2
    events = drain(pool)
    assert set(events) == {"a", "b"}
    assert all(isinstance(e, TaskDone) for e in events.values())


def test_running_maps_task_ids_to_worker_pids(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("a", ("sleep", 0.3))
    pool.submit("b", ("sleep", 0.3))
    pool.submit("c", ("echo", 1))
    assert pool.pending == 3
    running = pool.running
    assert set(running) == {"a", "b"} and len(set(running.values())) == 2
    drain(pool)
    assert pool.pending == 0 and pool.running == {}


def test_wait_returns_empty_after_its_timeout(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("slow", ("sleep", 2))
    start = time.monotonic()
    assert pool.wait(timeout=0.2) == []
    assert time.monotonic() - start > 0.15  # it waited (no upper bound: the machine may be busy)


def test_wait_with_nothing_pending_returns_at_once(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    answered: list[list[PoolEvent]] = []
    waiter = threading.Thread(target=lambda: answered.append(pool.wait()), daemon=True)
    waiter.start()
    waiter.join(timeout=60)  # a generous deadline: it must return, not block
    assert answered == [[]]


def test_many_tiny_tasks_all_come_back(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    for i in range(2000):
        pool.submit(str(i), ("echo", i))
    assert drain(pool) == {str(i): TaskDone(str(i), i) for i in range(2000)}
    # The cost per task (~25-40 us) is measured by bench/timing_limits.py, not asserted here.


# -- submit errors -----------------------------------------------------------------------------

def test_unpicklable_payload_fails_at_submit_naming_the_task(
        make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    with pytest.raises(pickle.PicklingError, match="'bad-task'"):
        pool.submit("bad-task", ("echo", _generator()))
    assert pool.pending == 0
    assert run_one(pool, "ok", ("echo", 1)) == TaskDone("ok", 1)


def test_duplicate_pending_task_id_is_refused(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("a", ("sleep", 0.2))
    with pytest.raises(ValueError, match="'a'"):
        pool.submit("a", ("echo", 1))


# -- failures inside the task -------------------------------------------------------------------

def test_raised_error_becomes_task_failed_and_worker_keeps_serving(
        make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool(workers=1)
    pid = run_one(pool, "pid", ("pid", None))
    event = run_one(pool, "bad", ("raise", "boom 42"))
    assert isinstance(event, TaskFailed)
    assert (event.error_type, event.message) == ("ValueError", "boom 42")
    assert "Traceback" in event.traceback and "raise ValueError(arg)" in event.traceback
    assert run_one(pool, "pid2", ("pid", None)) == TaskDone("pid2", pid.result)  # type: ignore[union-attr]


@pytest.mark.parametrize(("action", "arg", "error_type", "message"), [
    ("raise_two_args", None, "tests.execution.test_pool.NeedsTwoArgsError", "left and right"),
    ("sys_exit", 3, "SystemExit", "3"),
    ("keyboard_interrupt", None, "KeyboardInterrupt", ""),
])
def test_base_exceptions_fail_only_their_own_task(
        make_pool: Callable[..., WorkerPool], action: str, arg: Any, error_type: str,
        message: str) -> None:
    pool = make_pool()
    pool.submit("other", ("sleep", 0.3))
    pool.submit("bad", (action, arg))
    events = drain(pool)
    bad = events["bad"]
    assert isinstance(bad, TaskFailed)
    assert (bad.error_type, bad.message) == (error_type, message)
    assert events["other"] == TaskDone("other", 0.3)
    assert run_one(pool, "after", ("echo", "fine")) == TaskDone("after", "fine")


@pytest.mark.parametrize("action", ["return_generator", "return_lambda"])
def test_unpicklable_result_fails_only_its_task(
        make_pool: Callable[..., WorkerPool], action: str) -> None:
    pool = make_pool()
    pool.submit("other", ("sleep", 0.3))
    pool.submit("bad", (action, None))
    events = drain(pool)
    bad = events["bad"]
    assert isinstance(bad, TaskFailed)
    assert bad.message.startswith("could not send the result back: ")
    assert events["other"] == TaskDone("other", 0.3)
    assert run_one(pool, "after", ("echo", 1)) == TaskDone("after", 1)


def test_result_that_cannot_be_rebuilt_in_the_coordinator_fails_its_task(
        make_pool: Callable[..., WorkerPool]) -> None:
    copyreg.dispatch_table.pop(NeedsTwoArgsError, None)
    pool = make_pool()
    event = run_one(pool, "bad", ("return_two_args_error", None))
    assert isinstance(event, TaskFailed)
    assert event.message.startswith("could not send the result back: ")
    assert run_one(pool, "after", ("echo", 1)) == TaskDone("after", 1)


# -- dying workers ------------------------------------------------------------------------------

def test_os_exit_crashes_only_its_task(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("other", ("sleep", 0.3))
    pool.submit("bad", ("os_exit", 7))
    events = drain(pool)
    assert events["bad"] == TaskCrashed("bad", exitcode=7, signal=None)
    assert events["other"] == TaskDone("other", 0.3)
    assert run_one(pool, "after", ("echo", 1)) == TaskDone("after", 1)


def test_task_that_sigkills_itself_crashes_only_its_task(
        make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("other", ("sleep", 0.5))
    pool.submit("victim", ("sigkill_self", None))
    events = drain(pool)
    assert events["victim"] == TaskCrashed("victim", exitcode=None, signal=signal.SIGKILL)
    assert events["other"] == TaskDone("other", 0.5)
    for i in range(4):
        pool.submit(f"after{i}", ("echo", i))
    assert drain(pool) == {f"after{i}": TaskDone(f"after{i}", i) for i in range(4)}


def test_worker_killed_from_outside_crashes_only_its_task(
        make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("victim", ("sleep", 30))
    pool.submit("other", ("sleep", 0.5))
    os.kill(pool.running["victim"], signal.SIGKILL)
    events = drain(pool)
    assert events["victim"] == TaskCrashed("victim", exitcode=None, signal=signal.SIGKILL)
    assert events["other"] == TaskDone("other", 0.5)
    assert run_one(pool, "after", ("echo", 1)) == TaskDone("after", 1)


def test_idle_worker_that_dies_is_replaced_silently(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool(workers=1)
    pid = run_one(pool, "pid", ("pid", None)).result  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not is_alive(pid))
    event = run_one(pool, "after", ("pid", None))
    assert isinstance(event, TaskDone) and event.result != pid


# -- timeouts and cancellation ------------------------------------------------------------------

def test_timeout_kills_only_that_task_and_pool_keeps_working(
        make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    start = time.monotonic()
    pool.submit("slow", ("sleep", 30), timeout=0.5)
    pool.submit("other", ("sleep", 0.8))
    slow_pid = pool.running["slow"]
    events: dict[str, PoolEvent] = {}
    timed_out_at = None
    while pool.pending:
        for event in pool.wait(timeout=60):
            events[event.task_id] = event
            if event.task_id == "slow":
                timed_out_at = time.monotonic() - start
    assert events["slow"] == TaskTimedOut("slow", 0.5)
    assert timed_out_at is not None and timed_out_at > 0.45  # not before its timeout
    assert events["other"] == TaskDone("other", 0.8)
    assert not is_alive(slow_pid)
    assert run_one(pool, "after", ("echo", 1), timeout=60) == TaskDone("after", 1)


def test_cancel_running_task_kills_its_worker(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("long", ("sleep", 30))
    pid = pool.running["long"]
    assert pool.cancel("long") is True
    assert pool.wait(timeout=1) == [TaskCanceled("long")]
    assert not is_alive(pid)
    assert pool.pending == 0
    assert run_one(pool, "after", ("echo", 1)) == TaskDone("after", 1)


def test_cancel_queued_task_drops_it(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool(workers=1)
    pool.submit("first", ("sleep", 0.3))
    pool.submit("queued", ("echo", 1))
    assert pool.cancel("queued") is True
    events = drain(pool)
    assert events == {"first": TaskDone("first", 0.3), "queued": TaskCanceled("queued")}
    assert pool.cancel("queued") is False
    assert pool.cancel("first") is False
    assert pool.cancel("never-submitted") is False


def test_cancel_all_cancels_queued_and_running(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    for i in range(5):
        pool.submit(f"t{i}", ("sleep", 30))
    pool.cancel_all()
    assert pool.pending == 0
    assert drain(pool) == {}
    assert sorted(e.task_id for e in pool.wait(timeout=1)) == [f"t{i}" for i in range(5)]
    assert run_one(pool, "after", ("echo", 1)) == TaskDone("after", 1)


# -- initializer --------------------------------------------------------------------------------

def test_initializer_runs_once_per_worker(make_pool: Callable[..., WorkerPool],
                                          tmp_path: Path) -> None:
    log = tmp_path / "init.log"

    def initializer() -> None:
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")

    pool = make_pool(initializer=initializer)
    for i in range(40):
        pool.submit(f"t{i}", ("pid", None))
    task_pids = {e.result for e in drain(pool).values()}  # type: ignore[union-attr]
    init_pids = [int(line) for line in log.read_text().split()]
    assert len(init_pids) == 2 and len(set(init_pids)) == 2
    assert task_pids <= set(init_pids)


def test_failing_initializer_fails_every_task_with_its_error(
        make_pool: Callable[..., WorkerPool]) -> None:
    def initializer() -> None:
        raise RuntimeError("no credentials")

    pool = make_pool(initializer=initializer)
    for i in range(3):
        pool.submit(f"t{i}", ("echo", i))
    events = drain(pool)
    assert len(events) == 3
    for event in events.values():
        assert isinstance(event, TaskFailed)
        assert event.error_type == "RuntimeError"
        assert "no credentials" in event.message
        assert "no credentials" in event.traceback


# -- signals and process lifetime ---------------------------------------------------------------

def test_sigint_to_workers_does_not_kill_them(make_pool: Callable[..., WorkerPool]) -> None:
    pool = make_pool()
    pool.submit("a", ("sleep", 0.5))
    pool.submit("b", ("sleep", 0.5))
    pids = list(pool.running.values())
    for pid in pids:
        os.kill(pid, signal.SIGINT)
    assert drain(pool) == {"a": TaskDone("a", 0.5), "b": TaskDone("b", 0.5)}
    assert all(is_alive(pid) for pid in pids)
    for i in range(2):
        pool.submit(f"p{i}", ("sleep", 0.2))
    assert set(pool.running.values()) == set(pids)  # the same workers, none replaced
    drain(pool)


def test_workers_die_when_the_coordinator_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys, time
        from flowstone_cli.execution.pool import WorkerPool
        pool = WorkerPool(time.sleep, workers=2)
        pool.submit("long-a", 60)
        pool.submit("long-b", 60)
        print(" ".join(str(pid) for pid in pool.running.values()), flush=True)
        time.sleep(60)
    """)
    coordinator = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT,
                                   stdout=subprocess.PIPE, text=True)
    try:
        assert coordinator.stdout is not None
        pids = [int(pid) for pid in coordinator.stdout.readline().split()]
        assert len(pids) == 2 and all(is_alive(pid) for pid in pids)
    finally:
        coordinator.kill()
        coordinator.wait()
    assert wait_until(lambda: not any(is_alive(pid) for pid in pids))


def test_ctrl_c_reaches_only_the_coordinator_which_cancels_running_tasks() -> None:
    # A terminal sends SIGINT to the whole foreground process group, workers included.
    script = textwrap.dedent("""
        import time
        from flowstone_cli.execution.pool import WorkerPool
        with WorkerPool(time.sleep, workers=2) as pool:
            pool.submit("long-a", 60)
            pool.submit("long-b", 60)
            pool.submit("queued", 60)
            try:
                print("ready", flush=True)
                pool.wait()
            except KeyboardInterrupt:
                pool.cancel_all()
                events = pool.wait(timeout=5)
                print(sorted(type(e).__name__ + ":" + e.task_id for e in events), flush=True)
    """)
    coordinator = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
    try:
        assert coordinator.stdout is not None
        assert coordinator.stdout.readline().strip() == "ready"
        os.killpg(coordinator.pid, signal.SIGINT)
        out, err = coordinator.communicate(timeout=120)
    finally:
        coordinator.kill()
    assert coordinator.returncode == 0, err
    assert out.strip() == str(["TaskCanceled:long-a", "TaskCanceled:long-b", "TaskCanceled:queued"])
    assert "KeyboardInterrupt" not in err  # no worker printed a traceback


def test_shutdown_is_idempotent_and_leaves_no_children() -> None:
    pool = WorkerPool(run, workers=2)
    pool.submit("a", ("echo", 1))
    drain(pool)
    pool.shutdown()
    pool.shutdown()
    assert multiprocessing.active_children() == []
    assert pool.wait(timeout=0.1) == []
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit("b", ("echo", 2))


def test_shutdown_kill_stops_running_tasks_at_once() -> None:
    pool = WorkerPool(run, workers=2)
    pool.submit("a", ("sleep", 30))
    pids = list(pool.running.values())
    pool.shutdown(kill=True)  # kills rather than waits 30 s: the workers are gone on return
    assert not any(is_alive(pid) for pid in pids)
    assert multiprocessing.active_children() == []


def test_context_manager_shuts_the_pool_down() -> None:
    with WorkerPool(run, workers=2) as pool:
        assert run_one(pool, "a", ("echo", 1)) == TaskDone("a", 1)
    assert multiprocessing.active_children() == []


def test_spawn_start_method_runs_module_level_functions() -> None:
    with WorkerPool(run, workers=1, start_method="spawn") as pool:
        assert run_one(pool, "a", ("echo", 5)) == TaskDone("a", 5)


def test_spawn_start_method_refuses_a_lambda() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        WorkerPool(lambda payload: payload, workers=1, start_method="spawn")

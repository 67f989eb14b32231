"""A worker process pool that the coordinator fully controls: per-task timeouts, crash isolation,
cancellation of running tasks and replacement of single dead workers.

`concurrent.futures.ProcessPoolExecutor` breaks every task in flight when one worker dies and cannot
stop a running task; this pool runs one task per worker at a time, so a dead, timed-out or canceled
worker costs exactly one task. It is generic and knows nothing about assets.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import pickle
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for_ready
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from flowstone_cli.execution import pool_worker
from flowstone_cli.execution.pool_events import PoolEvent, TaskCanceled, TaskCrashed, TaskDone
from flowstone_cli.execution.pool_events import TaskFailed, TaskTimedOut
from flowstone_cli.execution.pool_support import REAP_TIMEOUT, block_sigint, check_picklable
from flowstone_cli.execution.pool_support import kill_processes, restore_sigmask
from flowstone_cli.execution.pool_worker import DONE, SEND_FAILURE_PREFIX, STOP, describe_exception

__all__ = ["PoolEvent", "TaskCanceled", "TaskCrashed", "TaskDone", "TaskFailed", "TaskTimedOut",
           "WorkerPool"]

# Only a process stuck in the kernel (e.g. on a dead NFS mount) takes longer to reap; it is
# then reaped at shutdown.
_REAP_TIMEOUT = REAP_TIMEOUT
# How long `shutdown()` lets workers finish their current task after the stop message.
_STOP_GRACE = 1.0




@dataclass(slots=True, eq=False)
class _Task:
    task_id: str
    message: bytes  # pickled (task_id, payload), ready to send
    timeout: float | None
    deadline: float | None = None  # monotonic time, set when it starts running
    canceled: bool = False  # dropped from the queue; skipped when it reaches the front


@dataclass(slots=True, eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    sentinel: int
    pid: int
    task: _Task | None = None
    alive: bool = True


class WorkerPool:
    """Runs `func(payload)` for submitted tasks in `workers` child processes, one task per worker.

    Workers start eagerly in `__init__`. A worker that dies, times out or is canceled is replaced
    by a new one the next time queued work needs it (from `submit` or `wait`), so an idle crash
    is repaired silently and a crash storm cannot fork in a loop.

    Fork safety (the caller's responsibility): with the default "fork" start method the child is a
    copy of the coordinator, so never create the pool or call `submit`/`wait` while a DuckDB
    connection is open — a forked child silently loses writes made through it. Workers are only
    ever started from the caller's own thread inside `__init__`, `submit` and `wait`; the pool
    starts no threads. On Linux a worker is SIGKILLed when the *thread* that forked it exits
    (PR_SET_PDEATHSIG), so create and use the pool from one thread that outlives it (normally the
    main thread). With "fork", `func` and `initializer` may be closures or lambdas; with "spawn"
    or "forkserver" they must be picklable module-level callables.

    Ctrl-C: workers ignore SIGINT, so a KeyboardInterrupt arrives only in the coordinator (usually
    out of `wait`). Handle it by calling `cancel_all()`, draining `wait()` and `shutdown()`; do not
    call pool methods from a signal handler. Leave SIGPIPE ignored (Python's default): a write to
    a worker that just died then raises instead of killing the coordinator.

    Example:
        with WorkerPool(run_step, workers=2) as pool:
            pool.submit("a", payload_a, timeout=60)
            while pool.pending:
                for event in pool.wait():
                    ...
    """

    def __init__(self, func: Callable[[Any], Any], *, workers: int,
                 initializer: Callable[[], None] | None = None,
                 start_method: str = "fork",
                 finalizer: Callable[[], None] | None = None) -> None:
        """Start the worker processes.

        Args:
            func: called as `func(payload)` in a worker for each task.
            workers: the number of worker processes (at least 1).
            initializer: run once in each worker right after it starts; if it raises, every task
                sent to that worker fails with the initializer's error.
            start_method: "fork" (default), "spawn" or "forkserver".
            finalizer: run once in each worker when it stops normally (tear down resources).

        Raises:
            ValueError: `workers` < 1 or an unknown start method.
            TypeError: `func`/`initializer` cannot be pickled for a non-fork start method.
        """
        if workers < 1:
            raise ValueError(f"a worker pool needs at least 1 worker, got {workers}")
        if start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(f"unknown start method {start_method!r}; use one of "
                             f"{', '.join(multiprocessing.get_all_start_methods())}")
        if start_method != "fork":
            check_picklable(func, "func", start_method)
            if initializer is not None:
                check_picklable(initializer, "initializer", start_method)
        self._func = func
        self._initializer = initializer
        self._worker_finalizer = finalizer
        self._size = workers
        self._start_method = start_method
        self._ctx = multiprocessing.get_context(start_method)
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._by_handle: dict[Connection | int, _Worker] = {}  # conn and sentinel -> worker
        self._running: dict[str, _Worker] = {}
        self._queue: deque[_Task] = deque()
        self._queued: dict[str, _Task] = {}
        self._events: list[PoolEvent] = []
        self._unreaped: list[BaseProcess] = []
        self._closed = False
        # Finalizers with an exit priority run before multiprocessing's own exit handler, which
        # would otherwise join our (non-daemonic) workers forever if the caller never shuts down.
        # The dict is shared, so the finalizer sees replacements too; it also runs if the pool is
        # garbage-collected without shutdown().
        self._processes: dict[int, BaseProcess] = {}
        self._finalizer = multiprocessing.util.Finalize(
            self, kill_processes, args=(self._processes,), exitpriority=10)
        try:
            for _ in range(workers):
                self._start_worker()
        except BaseException:
            self.shutdown(kill=True)
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Leaving on an error (Ctrl-C included) should not wait for running tasks.
        self.shutdown(kill=exc_type is not None)

    # -- public API -----------------------------------------------------------------------------

    def submit(self, task_id: str, payload: Any, *, timeout: float | None = None) -> None:
        """Queue a task; it starts as soon as a worker is idle.

        Args:
            task_id: unique among the queued and running tasks.
            payload: the argument for `func`; pickled now.
            timeout: seconds the task may run (queued time excluded) before its worker is killed
                and `TaskTimedOut` is reported; None for no limit.

        Raises:
            pickle.PicklingError: the payload cannot be pickled (the message names the task).
            ValueError: the id is already queued or running, or the timeout is not positive.
            RuntimeError: the pool was shut down.
        """
        if self._closed:
            raise RuntimeError(f"cannot submit task {task_id!r}: the worker pool was shut down")
        if task_id in self._queued or task_id in self._running:
            raise ValueError(f"task {task_id!r} is already queued or running in this pool")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"task {task_id!r}: timeout must be positive, got {timeout}")
        try:
            message = pickle.dumps((task_id, payload), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            # Pickling fails with TypeError, AttributeError, PicklingError or anything a custom
            # __reduce__ raises; give the caller one type to catch, naming the task.
            raise pickle.PicklingError(
                f"cannot submit task {task_id!r}: its payload cannot be pickled "
                f"({type(exc).__name__}: {exc})") from exc
        task = _Task(task_id, message, timeout)
        self._queue.append(task)
        self._queued[task_id] = task
        self._dispatch()

    def wait(self, timeout: float | None = None) -> list[PoolEvent]:
        """Block until at least one event is ready or `timeout` seconds pass.

        Also enforces task timeouts, notices dead workers at once and keeps idle workers fed.

        Args:
            timeout: the longest to block in seconds; None waits for the next event.

        Returns:
            Every ready event, or `[]` when the timeout passed first, when nothing is queued or
            running (so no event can come), or after `shutdown()`.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._closed:
                self._dispatch()
            if self._events:
                events, self._events = self._events, []
                return events
            if not self._running:
                return []  # nothing runs, so nothing can happen (the queue is empty too)
            now = time.monotonic()
            limit = None if end is None else max(0.0, end - now)
            for worker in self._running.values():
                deadline = worker.task.deadline if worker.task is not None else None
                if deadline is not None and (limit is None or deadline - now < limit):
                    limit = max(0.0, deadline - now)
            handles: list[Connection | int] = [w.conn for w in self._running.values()]
            handles += [w.sentinel for w in self._workers]
            for handle in wait_for_ready(handles, limit):
                worker = self._by_handle.get(handle)  # type: ignore[arg-type]
                if worker is None or not worker.alive:
                    continue  # already handled through its other handle
                if handle is worker.conn:
                    self._on_readable(worker)
                else:
                    self._on_exit(worker)
            self._expire_timeouts()
            if not self._events and end is not None and time.monotonic() >= end:
                return []

    def cancel(self, task_id: str) -> bool:
        """Cancel a queued or running task; `TaskCanceled` comes from the next `wait()`.

        A running task's worker is SIGKILLed (a replacement starts when work needs it).

        Returns:
            True if the task was queued or running, False if unknown or already finished.
        """
        task = self._queued.pop(task_id, None)
        if task is not None:
            task.canceled = True
            self._events.append(TaskCanceled(task_id))
            return True
        worker = self._running.get(task_id)
        if worker is None:
            return False
        self._kill_busy([worker])
        self._events.append(TaskCanceled(task_id))
        return True

    def cancel_all(self) -> None:
        """Cancel every queued and running task (one `TaskCanceled` each, from the next `wait()`)."""
        for task_id, task in self._queued.items():
            task.canceled = True
            self._events.append(TaskCanceled(task_id))
        self._queued.clear()
        self._queue.clear()
        task_ids = list(self._running)
        self._kill_busy(list(self._running.values()))
        self._events.extend(TaskCanceled(task_id) for task_id in task_ids)

    @property
    def pending(self) -> int:
        """The number of queued plus running tasks."""
        return len(self._queued) + len(self._running)

    @property
    def running(self) -> dict[str, int]:
        """The running tasks: task id -> pid of the worker running it."""
        return {task_id: worker.pid for task_id, worker in self._running.items()}

    def shutdown(self, *, kill: bool = False) -> None:
        """Stop every worker. Idempotent.

        Queued tasks are dropped and running tasks abandoned without events: call `cancel_all()`
        and drain `wait()` first if every task needs an outcome.

        Args:
            kill: SIGKILL the workers at once instead of sending a stop message and giving running
                tasks a short grace period before killing the stragglers.
        """
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._queued.clear()
        self._running.clear()
        workers, self._workers, self._idle = self._workers, [], []
        if not kill:
            for worker in workers:
                try:
                    worker.conn.send_bytes(STOP)
                except OSError:
                    continue  # it is already dead; the join below reaps it
            grace_end = time.monotonic() + _STOP_GRACE
            for worker in workers:
                worker.process.join(max(0.0, grace_end - time.monotonic()))
        for worker in workers:
            if worker.process.exitcode is None:
                worker.process.kill()
        for worker in workers:
            self._forget(worker)
        for process in self._unreaped:
            process.join(_REAP_TIMEOUT)
        self._unreaped.clear()
        self._finalizer()  # kills anything left and unregisters the exit hook

    # -- internals ------------------------------------------------------------------------------

    def _start_worker(self) -> None:
        """Start one worker and register it as idle (registered before any Ctrl-C can land)."""
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        pool_worker.COORDINATOR_ENDS.add(parent_end)
        # Under forkserver the parent is the fork server, so the child cannot check its ppid.
        coordinator_pid = None if self._start_method == "forkserver" else os.getpid()
        process = self._ctx.Process(
            target=pool_worker.worker_main, name="flowstone-worker",
            args=(child_end, self._func, self._initializer, coordinator_pid,
                  self._worker_finalizer))
        # A Ctrl-C landing between fork and the child's SIG_IGN would kill the new worker with a
        # KeyboardInterrupt traceback. Blocked, it stays pending: the child discards it, and we get
        # it when the mask is restored, after the worker is registered.
        previous_mask = block_sigint()
        try:
            try:
                process.start()
            except BaseException:
                pool_worker.COORDINATOR_ENDS.discard(parent_end)
                parent_end.close()
                raise
            finally:
                # The child has its copy; ours must go so later forks do not inherit it.
                child_end.close()
            assert process.pid is not None
            worker = _Worker(process, parent_end, process.sentinel, process.pid)
            self._workers.append(worker)
            self._idle.append(worker)
            self._by_handle[parent_end] = worker
            self._by_handle[worker.sentinel] = worker
            self._processes[worker.pid] = process
        finally:
            restore_sigmask(previous_mask)

    def _dispatch(self) -> None:
        while self._queue:
            task = self._queue[0]
            if task.canceled:
                self._queue.popleft()  # canceled while queued: dropped lazily here
                continue
            worker = self._take_idle_worker()
            if worker is None:
                return
            self._queue.popleft()
            del self._queued[task.task_id]
            # Mark it running before sending: if a Ctrl-C lands in between, cancel_all() still
            # finds (and kills) the worker instead of the task vanishing.
            worker.task = task
            self._running[task.task_id] = worker
            if task.timeout is not None:
                task.deadline = time.monotonic() + task.timeout
            try:
                worker.conn.send_bytes(task.message)
            except OSError:
                # The worker died while idle, so the task never reached it: requeue it in front.
                worker.task = None
                del self._running[task.task_id]
                task.deadline = None
                self._queue.appendleft(task)
                self._queued[task.task_id] = task
                self._forget(worker)

    def _take_idle_worker(self) -> _Worker | None:
        while True:
            if not self._idle:
                if len(self._workers) >= self._size:
                    return None
                self._start_worker()
            worker = self._idle.pop()
            # A worker that died between tasks is replaced silently; checking first (one cheap
            # waitpid) keeps a task from being attributed to a corpse.
            if worker.process.exitcode is None:
                return worker
            self._forget(worker)

    def _on_readable(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._on_exit(worker)  # it died, possibly mid-message
            return
        task = worker.task
        if task is None:
            # Only a busy worker may speak; a stray message means the protocol is broken.
            self._forget(worker, kill=True)
            return
        self._finish(worker, task, data)
        self._idle.append(worker)

    def _on_exit(self, worker: _Worker) -> None:
        task = worker.task
        if task is not None and worker.conn.poll(0):
            try:
                # It answered just before dying: the answer stands, the death was after the task.
                self._finish(worker, task, worker.conn.recv_bytes())
                task = None
            except (EOFError, OSError):
                pass  # died halfway through sending: a crash of this task
        if task is not None:
            self._running.pop(task.task_id, None)
            worker.task = None
        code = self._forget(worker)
        if task is not None:
            if code is not None and code < 0:
                self._events.append(TaskCrashed(task.task_id, exitcode=None, signal=-code))
            else:
                self._events.append(TaskCrashed(task.task_id, exitcode=code, signal=None))

    def _finish(self, worker: _Worker, task: _Task, data: bytes) -> None:
        worker.task = None
        del self._running[task.task_id]
        try:
            tag, value = pickle.loads(data)
        except Exception as exc:
            # The child pickled the result, but rebuilding it here failed (e.g. an exception
            # object whose __init__ needs other arguments than its .args).
            error_type, message, text = describe_exception(
                exc, prefix=SEND_FAILURE_PREFIX + "unpickling it in the coordinator failed: ")
            self._events.append(TaskFailed(task.task_id, error_type, message, text))
            return
        if tag == DONE:
            self._events.append(TaskDone(task.task_id, value))
        else:
            self._events.append(TaskFailed(task.task_id, *value))

    def _expire_timeouts(self) -> None:
        now = time.monotonic()
        expired = [w for w in self._running.values()
                   if w.task is not None and w.task.deadline is not None
                   and w.task.deadline <= now]
        for worker in expired:
            task = worker.task
            assert task is not None and task.timeout is not None
            if worker.conn.poll(0):
                self._on_readable(worker)  # it finished at the wire; the result wins
                continue
            self._kill_busy([worker])
            self._events.append(TaskTimedOut(task.task_id, task.timeout))

    def _kill_busy(self, workers: list[_Worker]) -> None:
        # Signal all first, then reap: the deaths overlap instead of queuing up.
        for worker in workers:
            worker.process.kill()
        for worker in workers:
            if worker.task is not None:
                self._running.pop(worker.task.task_id, None)
                worker.task = None
            self._forget(worker)

    def _forget(self, worker: _Worker, *, kill: bool = False) -> int | None:
        """Reap a dead (or, with `kill`, doomed) worker and drop every reference to it.

        Returns:
            The worker's exit code (negative: killed by that signal), None if it could not be
            reaped in time (it is then retried at shutdown).
        """
        worker.alive = False
        process = worker.process
        if kill and process.exitcode is None:
            process.kill()
        process.join(_REAP_TIMEOUT)
        if process.exitcode is None:
            # Still alive: it closed its pipe but kept running, or it is stuck in the kernel.
            process.kill()
            process.join(_REAP_TIMEOUT)
        code = process.exitcode
        if code is None:
            self._unreaped.append(process)
        else:
            self._processes.pop(worker.pid, None)
            process.close()  # frees its sentinel fd now rather than at garbage collection
        if worker in self._workers:
            self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        self._by_handle.pop(worker.conn, None)
        self._by_handle.pop(worker.sentinel, None)
        pool_worker.COORDINATOR_ENDS.discard(worker.conn)
        worker.conn.close()
        return code

"""The process executor: steps run on a pool of worker processes, several at a time.

A crashed or timed-out worker fails only its own step and is replaced; Ctrl-C cancels running
steps by killing their workers. Workers inherit the loaded project by fork, so nothing secret is
pickled to them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from flowstone_cli.execution.executors.base import synthetic_result
from flowstone_cli.execution.pool import (
    TaskCanceled,
    TaskCrashed,
    TaskDone,
    TaskFailed,
    TaskTimedOut,
    WorkerPool,
)
from flowstone_cli.execution.runtime import worker_stdio_to_stderr
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask


class ProcessExecutor:
    """Runs tasks on `workers` processes (fork by default).

    Args:
        runner: runs one task in a worker (`StepRuntime.run` under fork, where workers inherit
            the runtime; a picklable `ProjectRunner` under spawn/forkserver).
        teardown: runs in each worker when it stops (tears down resources).
        workers: process count.
        start_method: fork, spawn or forkserver.
    """

    def __init__(self, runner: Callable[[StepTask], StepResult], *,
                 teardown: Callable[[], None] | None, workers: int, start_method: str = "fork",
                 retry_crashes: bool = True) -> None:
        self.capacity = workers
        self._tasks: dict[str, tuple[StepTask, float]] = {}
        self._retry_crashes = retry_crashes
        self._pool = WorkerPool(runner, workers=workers, initializer=worker_stdio_to_stderr,
                                start_method=start_method, finalizer=teardown)

    def submit(self, task: StepTask, *, timeout: float | None = None) -> None:
        """Queue a task on the pool."""
        self._tasks[task.step_id] = (task, time.time())
        self._pool.submit(task.step_id, task, timeout=timeout)

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        """Collect finished results (crashes, timeouts and cancels become failed results)."""
        results: list[StepResult] = []
        for event in self._pool.wait(timeout):
            task, started = self._tasks.pop(event.task_id)
            results.append(self._translate(event, task, started))
        return results

    def _translate(self, event: object, task: StepTask, started: float) -> StepResult:
        if isinstance(event, TaskDone):
            return event.result
        if isinstance(event, TaskFailed):
            error = StepError("worker_error", event.error_type,
                              f"asset `{task.asset}`: {event.message}", event.traceback)
            return synthetic_result(task, ResultStatus.FAILED, error, started_at=started)
        if isinstance(event, TaskCrashed):
            how = (f"was killed by signal {signal.Signals(event.signal).name}" if event.signal
                   else f"exited with code {event.exitcode}")
            error = StepError("worker_crashed", "WorkerCrashed",
                              f"the worker running asset `{task.label}` {how}",
                              retryable=self._retry_crashes,
                              hint="The process may have run out of memory (see `dmesg`), or "
                                   "was killed from outside.")
            return synthetic_result(task, ResultStatus.FAILED, error, started_at=started)
        if isinstance(event, TaskTimedOut):
            error = StepError("step_timed_out", "TimedOut",
                              f"asset `{task.label}` ran longer than its timeout of "
                              f"{event.timeout:g}s and was killed",
                              hint="Raise the asset's timeout= or --step-timeout, or make it "
                                   "faster.")
            return synthetic_result(task, ResultStatus.TIMED_OUT, error, started_at=started)
        if isinstance(event, TaskCanceled):
            error = StepError("canceled", "Canceled", "run canceled")
            return synthetic_result(task, ResultStatus.CANCELED, error, started_at=started)
        raise TypeError(f"unknown pool event {event!r}")

    def cancel_all(self) -> list[StepResult]:
        """Kill running tasks and drop queued ones; return their canceled results."""
        self._pool.cancel_all()
        results: list[StepResult] = []
        deadline = time.monotonic() + 5
        while self._tasks and time.monotonic() < deadline:
            results.extend(self.wait(0.2))
        for task, started in self._tasks.values():
            results.append(synthetic_result(task, ResultStatus.CANCELED,
                                            StepError("canceled", "Canceled", "run canceled"),
                                            started_at=started))
        self._tasks.clear()
        return results

    def shutdown(self) -> None:
        """Stop the workers (they tear down their resources)."""
        self._pool.shutdown()

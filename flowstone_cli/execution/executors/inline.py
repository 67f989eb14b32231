"""The inline executor: runs steps one at a time in the command's own process.

Useful for debugging (breakpoints work) and for the `memory` I/O manager. Step timeouts cannot
be enforced in-process: `materialize` refuses `--step-timeout` (or `[executor] step_timeout`)
with this executor, and asset timeouts are not enforced (documented in docs/cli.md).
"""

from __future__ import annotations

import signal
from collections import deque
from types import FrameType

from flowstone_cli.execution.executors.base import synthetic_result
from flowstone_cli.execution.interrupts import note_terminated
from flowstone_cli.execution.runtime import StepRuntime
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask


class InlineExecutor:
    """Runs each task synchronously when the coordinator waits for results."""

    capacity = 1

    def __init__(self, runtime: StepRuntime) -> None:
        self._runtime = runtime
        self._queue: deque[StepTask] = deque()
        self._interrupted = False

    def submit(self, task: StepTask, *, timeout: float | None = None) -> None:
        """Queue a task (timeouts are not enforced in-process)."""
        del timeout
        self._queue.append(task)

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        """Run the next queued task and return its result."""
        del timeout
        if not self._queue:
            return []
        task = self._queue.popleft()
        # Ctrl-C while user code runs would be caught by the step's error boundary as if the
        # user had raised KeyboardInterrupt; remember that it came from the terminal instead.
        # SIGTERM is treated like Ctrl-C (see execution/interrupts.py).
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._interrupted = True
            if signum == signal.SIGTERM:
                note_terminated()
            raise KeyboardInterrupt

        installed = True
        try:
            for sig in previous:
                signal.signal(sig, on_signal)
        except ValueError:  # not the main thread: leave signals alone
            installed = False
        try:
            result = self._runtime.run(task)
        finally:
            if installed:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        if self._interrupted:
            self._interrupted = False
            self._queue.appendleft(task)
            raise KeyboardInterrupt
        return [result]

    def cancel_all(self) -> list[StepResult]:
        """Drop queued tasks, reporting each as canceled."""
        canceled = [synthetic_result(t, ResultStatus.CANCELED,
                                     StepError("canceled", "Canceled", "run canceled"))
                    for t in self._queue]
        self._queue.clear()
        return canceled

    def shutdown(self) -> None:
        """Tear down this process's resources."""
        self._runtime.resources.teardown()

"""What the coordinator needs from an executor: submit tasks, wait for results, cancel."""

from __future__ import annotations

import os
import socket
import time
from typing import Protocol

from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask


class Executor(Protocol):
    """Runs step tasks somewhere and reports their results."""

    capacity: int

    def submit(self, task: StepTask, *, timeout: float | None = None) -> None:
        """Start (or queue) a task; `timeout` seconds after it starts it is stopped."""

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        """Results that finished, waiting at most `timeout` seconds for at least one."""

    def cancel_all(self) -> list[StepResult]:
        """Stop every queued and running task; return their canceled results."""

    def shutdown(self) -> None:
        """Release workers. Idempotent."""


def synthetic_result(task: StepTask, status: ResultStatus, error: StepError | None,
                     *, started_at: float | None = None, pid: int | None = None) -> StepResult:
    """A result for a task that did not report one itself (crash, timeout, cancel)."""
    now = time.time()
    return StepResult(step_id=task.step_id, status=status, started_at=started_at or now,
                      ended_at=now, pid=pid or os.getpid(), host=socket.gethostname(),
                      error=error)

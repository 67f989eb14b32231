"""What a `WorkerPool` reports about each task: done, failed, crashed, timed out, canceled.

Plain frozen records (type names and text, never exception objects) so they always pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class TaskDone:
    """The task's function returned normally.

    Attributes:
        task_id: the id given to `submit`.
        result: the unpickled return value.
    """

    task_id: str
    result: Any


@dataclass(frozen=True, slots=True)
class TaskFailed:
    """The task's function raised, or its result could not be sent back.

    Any BaseException counts (`sys.exit()`, a `KeyboardInterrupt` raised by user code...). A result
    that does not pickle in the worker or does not unpickle in the coordinator gives a message
    starting with "could not send the result back: ".

    Attributes:
        task_id: the id given to `submit`.
        error_type: the exception's type name (`ValueError`, or `module.QualName` if not builtin).
        message: the exception's text.
        traceback: the formatted traceback from the worker.
    """

    task_id: str
    error_type: str
    message: str
    traceback: str


@dataclass(frozen=True, slots=True)
class TaskCrashed:
    """The worker process died while running the task (SIGKILL, OOM killer, `os._exit`).

    Attributes:
        task_id: the id given to `submit`.
        exitcode: the exit status if the worker exited, None if a signal killed it.
        signal: the signal number that killed the worker, None if it exited.
    """

    task_id: str
    exitcode: int | None
    signal: int | None


@dataclass(frozen=True, slots=True)
class TaskTimedOut:
    """The task ran longer than its timeout; its worker was SIGKILLed.

    Attributes:
        task_id: the id given to `submit`.
        timeout: the timeout in seconds that was exceeded.
    """

    task_id: str
    timeout: float


@dataclass(frozen=True, slots=True)
class TaskCanceled:
    """`cancel()` dropped the queued task or killed the worker running it.

    Attributes:
        task_id: the id given to `submit`.
    """

    task_id: str


PoolEvent: TypeAlias = TaskDone | TaskFailed | TaskCrashed | TaskTimedOut | TaskCanceled

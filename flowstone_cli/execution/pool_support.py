"""Small process helpers of the worker pool: signal masks around fork, killing, pickle checks."""

from __future__ import annotations

import pickle
import signal
from multiprocessing.process import BaseProcess

# How long a worker that should be gone may take to be reaped before we stop blocking on it.
REAP_TIMEOUT = 1.0

def block_sigint() -> set[int] | None:
    """Block SIGINT and SIGTERM in this thread (around a fork); returns the previous mask."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def restore_sigmask(previous: set[int] | None) -> None:
    """Undo `block_sigint`."""
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def kill_processes(processes: dict[int, BaseProcess]) -> None:
    """SIGKILL and reap every process still alive."""
    # Exit/GC hook: must not reference the pool, or the pool could never be collected.
    for process in processes.values():
        if process.exitcode is None:
            process.kill()
    for process in processes.values():
        process.join(REAP_TIMEOUT)
    processes.clear()


def check_picklable(obj: object, what: str, start_method: str) -> None:
    try:
        pickle.dumps(obj)
    except Exception as exc:
        raise TypeError(
            f"the worker pool's {what} {obj!r} cannot be pickled, which start method "
            f"{start_method!r} needs; use a module-level function or start_method='fork'"
        ) from exc

"""The child side of `WorkerPool`: the loop each worker process runs, and the wire format.

A worker receives one pickled `(task_id, payload)` at a time over its pipe, runs the pool's function
on it and answers with one pickled plain tuple. Nothing user code raises or returns can kill the
loop or reach the coordinator as an object that might fail to unpickle: errors travel as text.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import traceback
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# Reply tags. A reply is `pickle.dumps((DONE, result))` or `pickle.dumps((FAILED, (type, message,
# traceback)))`; the coordinator knows which task a reply belongs to from the worker it came from.
DONE = 0
FAILED = 1

# An empty message asks a worker to exit; `pickle.dumps` never produces empty bytes.
STOP = b""

SEND_FAILURE_PREFIX = "could not send the result back: "
INIT_FAILURE_PREFIX = "worker initializer failed: "
PAYLOAD_FAILURE_PREFIX = "could not receive the task payload: "

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# Every coordinator-side pipe end this process holds. A forked worker inherits them all and must
# close them: otherwise it keeps its siblings' pipes open and they never see EOF if the coordinator
# dies. Under "spawn"/"forkserver" the child starts with a fresh, empty set.
COORDINATOR_ENDS: weakref.WeakSet[Connection] = weakref.WeakSet()


def describe_exception(exc: BaseException, *, prefix: str = "",
                       skip_frames: int = 0) -> tuple[str, str, str]:
    """Turn an exception into plain text that always pickles.

    Args:
        exc: the exception to describe.
        prefix: text put before the exception's message.
        skip_frames: leading traceback frames to drop (our own wrapper frames).

    Returns:
        `(error_type, message, traceback_text)`; the type is the bare name for builtins and
        `module.QualName` otherwise.
    """
    cls = type(exc)
    error_type = cls.__qualname__ if cls.__module__ == "builtins" else (
        f"{cls.__module__}.{cls.__qualname__}")
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a broken __str__ must not lose the failure itself
        message = f"<unprintable {error_type} object>"
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    try:
        text = "".join(traceback.format_exception(cls, exc, tb))
    except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting; keep the summary
        text = f"{error_type}: {message}\n(the traceback could not be formatted)\n"
    return error_type, prefix + message, text


def _failure_reply(error_type: str, message: str, text: str) -> bytes:
    return pickle.dumps((FAILED, (error_type, message, text)), pickle.HIGHEST_PROTOCOL)


def worker_main(conn: Connection, func: Callable[[Any], Any],
                initializer: Callable[[], None] | None, coordinator_pid: int | None,
                finalizer: Callable[[], None] | None = None) -> None:
    """Entry point of a worker process: prepare the process, run the initializer, serve tasks.

    Args:
        conn: this worker's end of its duplex pipe.
        func: the function run for every task.
        initializer: run once before serving; if it raises, every task fails with its error.
        coordinator_pid: the expected parent pid (None under "forkserver", whose parent is the
            fork server) used to detect a coordinator that died before we could watch it.
        finalizer: run once when the worker stops normally (e.g. to tear down resources);
            its errors are printed to stderr, never raised.
    """
    _detach_from_terminal_signals()
    _die_with_coordinator(coordinator_pid)
    for end in list(COORDINATOR_ENDS):
        end.close()
    init_failure: bytes | None = None
    if initializer is not None:
        try:
            initializer()
        except BaseException as exc:  # noqa: BLE001 - reported to every task sent to this worker
            init_failure = _failure_reply(
                *describe_exception(exc, prefix=INIT_FAILURE_PREFIX, skip_frames=1))
        _flush_std_streams()
    _serve(conn, func, init_failure)
    if finalizer is not None and init_failure is None:
        try:
            finalizer()
        except BaseException as exc:  # noqa: BLE001 - the worker is exiting; report and go on
            print(f"flowstone worker {os.getpid()}: finalizer failed: {exc!r}", file=sys.stderr)
        _flush_std_streams()


def _detach_from_terminal_signals() -> None:
    # Ctrl-C reaches the whole foreground process group; only the coordinator may decide what to
    # cancel. SIGTERM goes back to its default so `terminate()` and `kill <pid>` stop a worker even
    # if the coordinator installed a graceful-shutdown handler that fork copied here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The coordinator blocks SIGINT around fork so none lands before SIG_IGN is in place.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    # An inherited wakeup fd (asyncio sets one) would make us write into the coordinator's pipe.
    signal.set_wakeup_fd(-1)


def _die_with_coordinator(coordinator_pid: int | None) -> None:
    # PDEATHSIG makes the kernel SIGKILL us when the coordinator dies, even mid-task. Elsewhere we
    # only notice at the next recv (EOF), i.e. after the running task ends.
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL),
                       ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        except (OSError, AttributeError) as exc:
            # No usable libc: the EOF check in the serve loop remains as the fallback.
            print(f"flowstone worker {os.getpid()}: cannot set PR_SET_PDEATHSIG ({exc}); the "
                  "worker will outlive a killed coordinator until its task ends", file=sys.stderr)
    # The coordinator may have died between fork and prctl; then we were re-parented already.
    if coordinator_pid is not None and os.getppid() != coordinator_pid:
        os._exit(0)


def _serve(conn: Connection, func: Callable[[Any], Any], init_failure: bytes | None) -> None:
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the coordinator is gone: nobody will ever read a result
        if message == STOP:
            return
        reply = init_failure if init_failure is not None else _run_one(func, message)
        _flush_std_streams()
        try:
            conn.send_bytes(reply)
        except OSError:
            return  # the coordinator is gone


def _run_one(func: Callable[[Any], Any], message: bytes) -> bytes:
    # Every path returns bytes: a BaseException from user code (SystemExit, KeyboardInterrupt,
    # GeneratorExit...) must become a failure record, never end this process.
    try:
        _task_id, payload = pickle.loads(message)
    except BaseException as exc:  # noqa: BLE001 - the payload's own unpickling code may raise anything
        return _failure_reply(*describe_exception(exc, prefix=PAYLOAD_FAILURE_PREFIX))
    try:
        result = func(payload)
    except BaseException as exc:  # noqa: BLE001 - user code: report whatever it raised
        return _failure_reply(*describe_exception(exc, skip_frames=1))
    try:
        return pickle.dumps((DONE, result), pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - a result's __reduce__ is user code too
        return _failure_reply(*describe_exception(exc, prefix=SEND_FAILURE_PREFIX))


def _flush_std_streams() -> None:
    # A worker may be SIGKILLed at any time (timeout, cancel, shutdown); flush what the task
    # printed now so it is not lost with the process.
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            continue  # the stream was closed or its reader went away: output cannot be delivered

"""Interruptions: SIGTERM treated as Ctrl-C, and Ctrl-C held back while a run's outcome is
being committed.

A SIGINT that lands between the end of a run and the commit of its outcome would leave the run
recorded as running (and later as crashed) although it finished. The coordinator blocks SIGINT
(and SIGTERM) for that short stretch; a signal sent meanwhile is delivered right after.

SIGTERM (sent by `timeout`, systemd, docker stop) raises KeyboardInterrupt exactly like Ctrl-C,
so the run is recorded `canceled` and its claims released; the process then exits with 143
(128 + SIGTERM) instead of 130.
"""

from __future__ import annotations

import signal


TERMINATED_EXIT_CODE = 143
_terminated = False


def note_terminated() -> None:
    """Remember that this process's interruption is a SIGTERM (exit 143)."""
    global _terminated  # noqa: PLW0603 - one flag per process, set from signal handlers
    _terminated = True


def _on_sigterm(signum: int, frame: object) -> None:
    note_terminated()
    raise KeyboardInterrupt


def install_sigterm_as_interrupt() -> None:
    """Make SIGTERM behave like Ctrl-C in this process (main thread only)."""
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass


def interrupted_exit_code() -> int:
    """The exit code of an interrupted command: 143 after SIGTERM, else 130 (Ctrl-C)."""
    return TERMINATED_EXIT_CODE if _terminated else 130


def hold_sigint() -> set[int] | None:
    """Block SIGINT and SIGTERM in this thread; returns the previous mask for
    `release_sigint`."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def release_sigint(previous: set[int] | None) -> None:
    """Restore the mask `hold_sigint` returned (a pending SIGINT is delivered now)."""
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

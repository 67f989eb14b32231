"""Holding Ctrl-C back while a run's outcome is being committed.

A SIGINT that lands between the end of a run and the commit of its outcome would leave the run
recorded as running (and later as crashed) although it finished. The coordinator blocks SIGINT
for that short stretch; a Ctrl-C pressed meanwhile is delivered right after.
"""

from __future__ import annotations

import signal


def hold_sigint() -> set[int] | None:
    """Block SIGINT in this thread; returns the previous mask for `release_sigint`."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def release_sigint(previous: set[int] | None) -> None:
    """Restore the mask `hold_sigint` returned (a pending SIGINT is delivered now)."""
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

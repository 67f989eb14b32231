"""Whether the coordinator of a run recorded as running is still alive.

On the run's own host the answer is exact: the process is gone, or its pid now belongs to another
process (the recorded *process token*, boot id + start time from /proc, differs). From another
host only the heartbeat can tell: the coordinator refreshes it at least every
`HEARTBEAT_SECONDS`, and one older than `STALE_AFTER_SECONDS` means the run is dead. Host clocks
must agree to within a few seconds for that rule; an idle coordinator is never stale on its own
host.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flowstone_cli.metadata.claims import LiveRun

HEARTBEAT_SECONDS = 5.0
"""The longest a running coordinator goes without refreshing `runs.heartbeat_at`."""

STALE_AFTER_SECONDS = 60.0
"""A run on another host whose heartbeat is older than this is considered crashed."""

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def this_host() -> str:
    """The name runs record as their host."""
    return socket.gethostname()


def process_token(pid: int) -> str | None:
    """`BOOT_ID:START_TICKS` of a process, or None where /proc is not available.

    Two processes that ever had the same pid on one machine never share a token, so a pid reused
    after a crash is not mistaken for the run's coordinator.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = _BOOT_ID.read_text().strip()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rfind(")") + 2:].split()
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True


def death_reason(run: LiveRun, *, host: str, now: datetime,
                 stale_after: float = STALE_AFTER_SECONDS) -> str | None:
    """Why `run`'s coordinator is considered dead, or None while it may be alive.

    Args:
        run: a run recorded as running.
        host: the name of the machine asking.
        now: the current time (aware).
        stale_after: heartbeat age in seconds that counts as dead for runs of other hosts.
    """
    if run.host == host and run.pid is not None:
        if run.pid == os.getpid():
            return None
        if not pid_alive(run.pid):
            return f"its process {run.pid} on {host} is gone"
        if run.process_token is not None:
            token = process_token(run.pid)
            if token is not None and token != run.process_token:
                return f"its process {run.pid} on {host} is gone (the pid was reused)"
        return None
    beat = run.heartbeat_at or run.started_at
    if beat is None:
        return None
    age = (now - beat).total_seconds()
    if age > stale_after:
        return f"no heartbeat from {run.host or 'its host'} for {age:.0f}s"
    return None


@dataclass(frozen=True)
class DeadRuns:
    """Runs recorded as running whose coordinator is gone: run id -> why."""

    reasons: dict[str, str]

    def __bool__(self) -> bool:
        return bool(self.reasons)


def find_dead(runs: Iterable[LiveRun], *, host: str | None = None,
              now: datetime | None = None) -> DeadRuns:
    """The runs among `runs` whose coordinator is gone."""
    host = host or this_host()
    now = now or datetime.now(timezone.utc)
    reasons = {}
    for run in runs:
        reason = death_reason(run, host=host, now=now)
        if reason is not None:
            reasons[run.run_id] = reason
    return DeadRuns(reasons)

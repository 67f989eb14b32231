"""Run ownership: finding runs whose coordinator died, and canceling live runs.

Every command that looks at runs (`materialize`, `backfill`, `runs list|show|logs|resume|cancel`)
first marks the runs recorded as running whose coordinator is gone as `crashed`, and their
unfinished steps `abandoned` (see `execution/liveness.py` for how death is decided). It costs
one query on the running runs; a write session is opened only when a dead run is found.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api.materialize import current_actor
from flowstone_cli.api.wiring import open_store
from flowstone_cli.errors import UsageError
from flowstone_cli.execution.liveness import death_reason, find_dead, this_host
from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.store import MetadataStore, StoreReader
from flowstone_cli.project.loader import Project

_WAIT_POLL = 0.2  # seconds between looks at a run that was asked to cancel


def dead_runs(reader: StoreReader) -> dict[str, str]:
    """Runs recorded as running whose coordinator is gone: run id -> why (read only)."""
    return find_dead(reader.running_runs()).reasons


def reap(store: MetadataStore, dead: dict[str, str]) -> list[str]:
    """Mark the given dead runs crashed (re-checked inside the write session)."""
    if not dead:
        return []
    with store.writer() as writer:
        # Decide again inside the session: a run may have finished since it was read.
        still = find_dead(r for r in writer.running_runs() if r.run_id in dead)
        return writer.reap_runs(still.reasons, datetime.now(timezone.utc)) if still else []


def reap_dead_runs(store: MetadataStore) -> list[str]:
    """Mark runs whose coordinator is gone as crashed; returns their ids.

    One read session when nothing is dead; a second, write session only when something is.
    """
    if not store.exists():
        return []
    with store.reader() as reader:
        dead = dead_runs(reader)
    return reap(store, dead)


@dataclass(frozen=True)
class CancelResult:
    """What `cancel_run` did.

    Attributes:
        run: the run record as it was last seen (canceled, or still running if the wait ended
            first).
        signalled: the pid sent SIGINT (same host), or None when only the request was written.
    """

    run: RunRecord
    signalled: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"run_id": self.run.run_id, "status": self.run.status.value,
                "signalled_pid": self.signalled}


def cancel_run(project: Project, run_id: str, *, by: str | None = None,
               wait: float = 30.0) -> CancelResult:
    """Ask a live run owned by another process to cancel itself, and wait for it.

    The request is written to the store (the coordinator reads it at its next flush, at most
    `HEARTBEAT_SECONDS` later, wherever it runs); on the same host the coordinator is also sent
    SIGINT, which cancels it at once exactly like Ctrl-C. Either way the run records itself
    `canceled`: its running steps are stopped and recorded canceled.

    Args:
        run_id: the run (or a unique prefix).
        by: who asks (default: $FLOWSTONE_ACTOR, else the OS user).
        wait: seconds to wait for the run to leave `running` (0: do not wait).

    Raises:
        UsageError: the run is not running (finished, or found crashed).
    """
    store = open_store(project)
    reap_dead_runs(store)
    with store.reader() as reader:
        run = reader.get_run(run_id)
    if run.status is not RunStatus.RUNNING:
        if run.status is RunStatus.SUCCEEDED:
            hint = "Only a running run can be canceled; this one finished every step."
        elif run.status is RunStatus.WAITING_APPROVAL:
            hint = ("Only a running run can be canceled; this one waits for approval: "
                    "`flowstone checkpoints list --status pending`, then approve or reject.")
        else:
            hint = ("Only a running run can be canceled; `flowstone runs resume "
                    f"{run.run_id}` re-runs what it did not finish.")
        raise UsageError(f"run {run.run_id} is not running (it is {run.status.value})",
                         hint=hint)
    with store.writer() as writer:
        writer.request_cancel(run.run_id, by=current_actor(by), now=datetime.now(timezone.utc))
        live = [r for r in writer.running_runs() if r.run_id == run.run_id]
    signalled = None
    host = this_host()
    if live and live[0].host == host and live[0].pid is not None and live[0].pid != os.getpid() \
            and death_reason(live[0], host=host, now=datetime.now(timezone.utc)) is None:
        try:
            os.kill(live[0].pid, signal.SIGINT)
            signalled = live[0].pid
        except OSError:
            pass  # not ours to signal (another user): the request in the store still works
    return CancelResult(_wait_until_done(store, run, wait), signalled)


def _wait_until_done(store: MetadataStore, run: RunRecord, wait: float) -> RunRecord:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(_WAIT_POLL)
        with store.reader() as reader:
            dead = dead_runs(reader)
            run = reader.get_run(run.run_id)
        if run.run_id in dead:  # killed meanwhile: it will never record itself canceled
            reap(store, dead)
            with store.reader() as reader:
                run = reader.get_run(run.run_id)
        if run.status is not RunStatus.RUNNING:
            break
    return run

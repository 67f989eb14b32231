"""Launched runs that fail before recording themselves: recorded as failed all the same.

A launched run whose start-up fails with a FlowStone error (a selection that needs partitions,
a missing input) records itself as failed before it exits (`record_start_failure`). A run that
cannot even do that (its project no longer loads, it is killed) is found by `tick`:

each launch leaves a receipt (see `automation/receipts.py`), and for every receipt of this
machine:

- the run recorded itself: the receipt has done its job and is removed;
- the process still runs: nothing to do yet (it may be loading a large project);
- the process is gone and the run never recorded itself: the run is recorded as failed, with
  its trigger, its command, its log path and the log's last lines, and the `run_failed`
  notification is queued in the same write session (delivered by the same tick).

The process is checked before the store, so a run cannot record itself after it was found
missing: a process that is gone writes nothing more.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from datetime import datetime, timezone

from flowstone_cli import __version__
from flowstone_cli.api import notify
from flowstone_cli.api.actor import current_actor
from flowstone_cli.automation.receipts import (
    LaunchReceipt,
    log_tail,
    logs_dir,
    process_alive,
    read_receipts,
    remove_receipt,
    this_host,
)
from flowstone_cli.automation.tick import TickAction
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.store import MetadataStore, StoreWriter
from flowstone_cli.project.interpolate import redact
from flowstone_cli.project.loader import Project

FAILED_AT_START = "the run's process exited before it recorded the run (see its log)"


def reconcile_launches(project: Project, store: MetadataStore, now: datetime
                       ) -> list[TickAction]:
    """Record launched runs whose process died unrecorded as failed; returns what was done."""
    host = this_host()
    gone = [receipt for receipt in read_receipts(project.root)
            if receipt.host == host and not process_alive(receipt.pid, receipt.run_id)]
    if not gone:
        return []
    recorded: set[str] = set()
    if store.exists():
        with store.reader() as reader:
            recorded = {run.run_id for run in reader.runs_by_id([r.run_id for r in gone])}
    missing = [receipt for receipt in gone if receipt.run_id not in recorded]
    actions: list[TickAction] = []
    if missing:
        with store.writer() as writer:
            for receipt in missing:
                if _record_failed(writer, project, failed_run(project, receipt, now)):
                    actions.append(TickAction(receipt.trigger, "failed_at_start",
                                              run_id=receipt.run_id,
                                              partitions=receipt.partitions,
                                              message=f"recorded as failed; log: {receipt.log}"))
    for receipt in gone:
        remove_receipt(project.root, receipt.run_id)
    return actions


def record_start_failure(project: Project, store: MetadataStore, *, run_id: str, trigger: str,
                         selection: str, error: str) -> None:
    """A launched run that cannot start records its own failure before it exits, so it is in
    `runs list --status failed` at once, not only after the next tick. Notification problems
    are logged, never raised: the start-up error is what the caller must report."""
    log = logs_dir(project.root) / f"{run_id}.log"
    now = datetime.now(timezone.utc)
    record = RunRecord(run_id=run_id, status=RunStatus.FAILED, trigger=trigger,
                       selection=selection,
                       command=redact(" ".join(["flowstone", *sys.argv[1:]]), project.secrets),
                       actor=current_actor(), host=socket.gethostname(), pid=os.getpid(),
                       flowstone_version=__version__, started_at=now, ended_at=now,
                       heartbeat_at=None, tags={},
                       summary={"counts": {}, "error": redact(error, project.secrets),
                                "log": str(log) if log.exists() else None, "log_tail": "",
                                "failed_at_start": True})
    try:
        with store.writer() as writer:
            _record_failed(writer, project, record)
        notify.deliver_pending(project, store)
    except FlowStoneError as exc:
        logging.getLogger("flowstone.notifications").warning("recording the start-up "
                                                             "failure: %s", exc.message)


def _record_failed(writer: StoreWriter, project: Project, record: RunRecord) -> bool:
    """Insert a run that failed before it started, and queue `run_failed`; False when the run
    is already recorded (it recorded itself, or another tick did)."""
    if writer.runs_by_id([record.run_id]):
        return False
    writer.insert_run(record)
    notify.queue(writer, project, notify.failure_targets(project), "run_failed",
                 {"run_id": record.run_id, "trigger": record.trigger, "counts": {},
                  "failed": [], "error": record.summary["error"],
                  "log": record.summary["log"], "log_tail": record.summary["log_tail"]})
    return True


def failed_run(project: Project, receipt: LaunchReceipt, now: datetime) -> RunRecord:
    """The run record of a launch that died before recording itself."""
    tail = redact(log_tail(receipt.log), project.secrets)
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    # The CLI prints `error: message` then `  hint: ...`: the error line says what went wrong.
    last = next((line for line in reversed(lines) if line.startswith("error:")),
                lines[-1] if lines else "")
    error = FAILED_AT_START + (f": {last.removeprefix('error:').strip()}" if last else "")
    return RunRecord(run_id=receipt.run_id, status=RunStatus.FAILED, trigger=receipt.trigger,
                     selection=receipt.selection,
                     command=redact(receipt.command, project.secrets),
                     actor=current_actor(),
                     host=receipt.host or socket.gethostname(), pid=receipt.pid,
                     flowstone_version=__version__, started_at=receipt.launched,
                     ended_at=now, heartbeat_at=None, tags={},
                     summary={"counts": {}, "error": error, "log": receipt.log,
                              "log_tail": tail, "failed_at_start": True})


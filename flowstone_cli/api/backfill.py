"""Backfills: one selection over many partitions, resumable without a daemon.

A backfill is a record (selection, partitions, force, max parallel partitions) plus the runs that
work on it. `resume` plans the same steps again and skips every step a run of the backfill
already finished, so a Ctrl-C, a failure or a killed process costs only the unfinished steps.
"""

from __future__ import annotations

import os
import signal
import socket
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api.materialize import MaterializeOptions, current_actor, decided_plan, materialize
from flowstone_cli.api.ownership import reap_dead_runs
from flowstone_cli.api.tenants import tenant_filter
from flowstone_cli.api.wiring import open_store
from flowstone_cli.errors import UsageError
from flowstone_cli.events import EventSink, discard
from flowstone_cli.execution.liveness import pid_alive
from flowstone_cli.execution.outcomes import RunSummary
from flowstone_cli.metadata.backfills import BackfillRecord, BackfillStatus
from flowstone_cli.metadata.ids import new_run_id
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.project.loader import Project

_FINAL = {RunStatus.SUCCEEDED: BackfillStatus.SUCCEEDED, RunStatus.FAILED: BackfillStatus.FAILED,
          RunStatus.CANCELED: BackfillStatus.CANCELED,
          RunStatus.WAITING_APPROVAL: BackfillStatus.WAITING_APPROVAL}


@dataclass(frozen=True)
class BackfillResult:
    """A backfill record and the summary of the run that just worked on it."""

    backfill: BackfillRecord
    summary: RunSummary

    def partition_summary(self) -> dict[str, dict[str, str]]:
        """partition -> asset -> status, for the steps of this run."""
        grid: dict[str, dict[str, str]] = defaultdict(dict)
        for outcome in self.summary.steps:
            grid[outcome.key.partition or "-"][outcome.key.asset] = outcome.status.value
        return dict(grid)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        data = self.summary.to_dict()
        data["backfill"] = self.backfill.to_dict()
        data["partitions"] = self.partition_summary()
        return data


def _run(project: Project, record: BackfillRecord, options: MaterializeOptions,
         sink: EventSink, done: set[tuple[str, str | None]]) -> BackfillResult:
    options = replace(options, selection=record.selection.split(),
                      exclude=tuple(record.exclude.split()) if record.exclude else (),
                      force=record.force, partitions=PartitionRequest.from_dict(record.partitions),
                      max_parallel=record.max_parallel, backfill_id=record.backfill_id,
                      trigger="backfill", done=frozenset(done))
    store = open_store(project)
    try:
        summary = materialize(project, options, sink=sink)
    except BaseException:
        with store.writer() as writer:
            writer.update_backfill(record.backfill_id, status=BackfillStatus.FAILED,
                                   ended_at=datetime.now(timezone.utc))
        raise
    status = _FINAL.get(summary.status, BackfillStatus.FAILED)
    with store.writer() as writer:
        writer.update_backfill(record.backfill_id, status=status,
                               ended_at=datetime.now(timezone.utc),
                               summary={"last_run": summary.run_id, "counts": summary.counts})
        record = writer.get_backfill(record.backfill_id)
    return BackfillResult(record, summary)


def start_backfill(project: Project, selection: Sequence[str], request: PartitionRequest, *,
                   options: MaterializeOptions, max_parallel: int | None = None,
                   sink: EventSink = discard) -> BackfillResult:
    """Create a backfill record and run it.

    Raises:
        PartitionError, SelectionError: before anything is recorded, when the selection or the
            partitions are invalid.
    """
    if request.empty:
        raise UsageError("a backfill needs partitions",
                         hint="Give --from START --to END, --partitions K1 K2 ..., or --all.")
    if max_parallel is not None and max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1", hint="Use e.g. --max-parallel 4.")
    store = open_store(project)
    # Validate selection and partitions now, so a bad call records nothing.
    decided_plan(project, store, selection, options.exclude, force=options.force,
                 partitions=request, config=options.config)
    record = BackfillRecord(
        backfill_id=f"bf-{new_run_id()}", status=BackfillStatus.RUNNING,
        selection=" ".join(selection), exclude=" ".join(options.exclude) or None,
        partitions=request.to_dict(), force=options.force, max_parallel=max_parallel,
        actor=current_actor(options.actor), created_at=datetime.now(timezone.utc))
    with store.writer() as writer:
        writer.insert_backfill(record)
    return _run(project, record, options, sink, set())


def _live_runs(project: Project, backfill_id: str) -> list[Any]:
    with open_store(project).reader() as reader:
        running = reader.runs_with_status(RunStatus.RUNNING.value)
    host = socket.gethostname()
    return [run for run in running if run.backfill_id == backfill_id and run.host == host
            and run.pid is not None and pid_alive(run.pid)]


def resume_backfill(project: Project, backfill_id: str, *, options: MaterializeOptions,
                    sink: EventSink = discard) -> BackfillResult:
    """Run what a backfill has not finished yet (after a failure, Ctrl-C or a killed process).

    Raises:
        UsageError: a run of the backfill is still alive on this machine.
    """
    store = open_store(project)
    # Runs (of this backfill or any other) whose process is gone can no longer finish: say so.
    reap_dead_runs(store)
    with store.reader() as reader:
        record = reader.get_backfill(backfill_id)
        done = reader.backfill_done(record.backfill_id)
    live = _live_runs(project, record.backfill_id)
    if live:
        raise UsageError(f"backfill {record.backfill_id} is still running (pid {live[0].pid})",
                         hint=f"Wait for it, or stop it with `flowstone backfill cancel "
                              f"{record.backfill_id}`.")
    with store.writer() as writer:
        writer.update_backfill(record.backfill_id, status=BackfillStatus.RUNNING, ended_at=None)
    return _run(project, record, options, sink, done)


def cancel_backfill(project: Project, backfill_id: str) -> tuple[BackfillRecord, list[int]]:
    """Mark a backfill canceled and interrupt its live runs on this machine (they record
    themselves as canceled). Returns the record and the pids signalled."""
    store = open_store(project)
    with store.reader() as reader:
        record = reader.get_backfill(backfill_id)
    pids = []
    for run in _live_runs(project, record.backfill_id):
        os.kill(run.pid, signal.SIGINT)
        pids.append(run.pid)
    with store.writer() as writer:
        writer.update_backfill(record.backfill_id, status=BackfillStatus.CANCELED,
                               ended_at=datetime.now(timezone.utc))
        record = writer.get_backfill(record.backfill_id)
    return record, pids


def list_backfills(project: Project, *, limit: int = 20) -> list[BackfillRecord]:
    """Newest backfills first."""
    store = open_store(project)
    if not store.exists():
        return []
    reap_dead_runs(store)  # a backfill whose coordinator died shows as crashed, not running
    with store.reader() as reader:
        return reader.list_backfills(limit=limit)


@dataclass(frozen=True)
class BackfillGrid:
    """A backfill's status per partition and asset.

    Attributes:
        backfill: the record.
        assets: asset names (columns), in dependency order.
        partitions: partition keys (rows), in plan order.
        cells: (asset, partition) -> status (`pending` when no run has reached it).
    """

    backfill: BackfillRecord
    assets: list[str]
    partitions: list[str | None]
    cells: dict[tuple[str, str | None], str]

    def counts(self) -> dict[str, int]:
        """How many cells have each status."""
        return dict(Counter(self.cells.values()))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`: the record, counts and partition -> asset -> status."""
        grid: dict[str, dict[str, str]] = {}
        for (asset, partition), status in self.cells.items():
            grid.setdefault(partition or "-", {})[asset] = status
        return {"backfill": self.backfill.to_dict(), "counts": self.counts(),
                "assets": self.assets, "grid": grid}


def show_backfill(project: Project, backfill_id: str, *, tenant: str | None = None
                  ) -> BackfillGrid:
    """The status grid of a backfill (optionally only one tenant's partitions)."""
    store = open_store(project)
    reap_dead_runs(store)  # a killed run's steps show as abandoned, not pending
    with store.reader() as reader:
        record = reader.get_backfill(backfill_id)
        steps: list[StepRecord] = reader.backfill_steps(record.backfill_id)
    plan = decided_plan(project, store, record.selection.split(),
                        tuple(record.exclude.split()) if record.exclude else (),
                        partitions=PartitionRequest.from_dict(record.partitions)).plan
    cells = {(s.key.asset, s.key.partition): "pending" for s in plan.steps}
    for step in steps:
        cells[(step.asset, step.partition)] = step.status.value
    only = tenant_filter(project, tenant)
    if only is not None:
        cells = {k: v for k, v in cells.items() if only.admits(k[1])}
    assets = list(dict.fromkeys(s.key.asset for s in plan.steps))
    partitions = list(dict.fromkeys(k[1] for k in cells))
    return BackfillGrid(record, assets, partitions, cells)

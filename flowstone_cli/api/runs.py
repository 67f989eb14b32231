"""Inspecting recorded runs: list, show and logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowstone_cli.api.wiring import open_store
from flowstone_cli.metadata.records import EventRecord, RunRecord, StepRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.project.loader import Project
from flowstone_cli.errors import UsageError


@dataclass(frozen=True)
class RunDetails:
    """One run with its steps."""

    run: RunRecord
    steps: list[StepRecord]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        data = self.run.to_dict()
        data["steps"] = [s.to_dict() for s in self.steps]
        return data


def list_runs(project: Project, *, limit: int = 20, status: str | None = None) -> list[RunRecord]:
    """The newest runs first, optionally only those with `status`."""
    if status is not None and status not in {s.value for s in RunStatus}:
        raise UsageError(f"unknown run status `{status}`",
                         hint=f"Use one of: {', '.join(s.value for s in RunStatus)}.")
    with open_store(project).reader() as reader:
        return reader.list_runs(limit=limit, status=status)


def show_run(project: Project, run_id: str) -> RunDetails:
    """A run (by id or unique prefix) and every step attempt it recorded."""
    with open_store(project).reader() as reader:
        run = reader.get_run(run_id)
        return RunDetails(run, reader.steps_for_run(run.run_id))


def run_logs(project: Project, run_id: str, *, all_events: bool = False) -> tuple[RunRecord,
                                                                                 list[EventRecord]]:
    """The messages a run's steps wrote through `context.log` (with `all_events`, every
    recorded event)."""
    with open_store(project).reader() as reader:
        run = reader.get_run(run_id)
        kinds = None if all_events else ["log", "step_failed", "step_retrying", "step_timed_out"]
        return run, reader.events_for_run(run.run_id, kinds=kinds)

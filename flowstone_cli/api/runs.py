"""Inspecting recorded runs (list, show, logs) and resuming one.

Each of them first marks runs whose coordinator died as crashed (see `api/ownership.py`): the
check shares the read session of the query, so it costs one extra query, not a session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, TypeVar

from flowstone_cli.api.materialize import DecidedPlan, MaterializeOptions, apply_gates, run_plan
from flowstone_cli.api.tenants import tenant_filter
from flowstone_cli.api.ownership import dead_runs, reap, reap_dead_runs
from flowstone_cli.api.wiring import open_store
from flowstone_cli.definitions.run_config import config_from_tags, validate_config
from flowstone_cli.definitions.partitioning import is_keyed, upstream_keys
from flowstone_cli.errors import UsageError
from flowstone_cli.events import EventSink, discard
from flowstone_cli.execution.coordinator import Current
from flowstone_cli.execution.outcomes import RunSummary
from flowstone_cli.metadata.checkpoints import CheckpointRequest
from flowstone_cli.metadata.checks import CheckRecord
from flowstone_cli.metadata.records import EventRecord, RunRecord, StepRecord
from flowstone_cli.metadata.statuses import RunStatus, StepStatus
from flowstone_cli.metadata.store import MetadataStore, StoreReader
from flowstone_cli.planning.plan import Action, StepKey, build_plan
from flowstone_cli.planning.selection import Selection
from flowstone_cli.project.loader import Project

T = TypeVar("T")

# The final statuses that mean "done, reuse it"; every other step of a run is resumed.
_DONE = {StepStatus.SUCCEEDED, StepStatus.UP_TO_DATE}


@dataclass(frozen=True)
class RunDetails:
    """One run with its steps."""

    run: RunRecord
    steps: list[StepRecord]
    checkpoints: list[CheckpointRequest] = field(default_factory=list)
    checks: list[CheckRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        data = self.run.to_dict()
        data["steps"] = [s.to_dict() for s in self.steps]
        data["checkpoints"] = [c.to_dict() for c in self.checkpoints]
        data["checks"] = [c.to_dict() for c in self.checks]
        return data


def _read(store: MetadataStore, query: Callable[[StoreReader], T]) -> T:
    """Run `query` after marking dead runs crashed, sharing its read session when none are."""
    with store.reader() as reader:
        dead = dead_runs(reader)
        result = query(reader)
    if not dead:
        return result
    reap(store, dead)
    with store.reader() as reader:
        return query(reader)


def list_runs(project: Project, *, limit: int = 20, status: str | None = None,
              tenant: str | None = None) -> list[RunRecord]:
    """The newest runs first, optionally only those with `status`, or that touched a
    partition of `tenant` (the project's tenant dimension)."""
    if status is not None and status not in {s.value for s in RunStatus}:
        raise UsageError(f"unknown run status `{status}`",
                         hint=f"Use one of: {', '.join(s.value for s in RunStatus)}.")
    only = tenant_filter(project, tenant)
    if only is None:
        return _read(open_store(project), lambda r: r.list_runs(limit=limit, status=status))

    def query(reader: StoreReader) -> list[RunRecord]:
        found: list[RunRecord] = []
        for run in reader.list_runs(limit=max(limit * 20, 200), status=status):
            if any(only.owns(step.partition) for step in reader.steps_for_run(run.run_id)):
                found.append(run)
                if len(found) >= limit:
                    break
        return found

    return _read(open_store(project), query)


def show_run(project: Project, run_id: str) -> RunDetails:
    """A run (by id or unique prefix) and every step attempt it recorded."""
    def query(reader: StoreReader) -> RunDetails:
        run = reader.get_run(run_id)
        # The audit trail of approvals: requests this run made, and decisions it carried out.
        requests = [c for c in reader.list_checkpoints(limit=100_000)
                    if run.run_id in (c.run_id, c.resumed_run_id)]
        requests += [c for c in reader.checkpoints_for_runs([run.run_id])
                     if c.status.value == "passed"]
        return RunDetails(run, reader.steps_for_run(run.run_id), requests,
                          reader.checks_for_runs([run.run_id]))

    return _read(open_store(project), query)


def run_logs(project: Project, run_id: str, *, all_events: bool = False) -> tuple[RunRecord,
                                                                                 list[EventRecord]]:
    """The messages a run's steps wrote through `context.log` (with `all_events`, every
    recorded event)."""
    kinds = None if all_events else ["log", "step_failed", "step_retrying", "step_timed_out"]

    def query(reader: StoreReader) -> tuple[RunRecord, list[EventRecord]]:
        run = reader.get_run(run_id)
        return run, reader.events_for_run(run.run_id, kinds=kinds)

    return _read(open_store(project), query)


def final_statuses(steps: list[StepRecord]) -> dict[StepKey, StepStatus]:
    """The status of each step's last row (by end time, then attempt)."""
    latest: dict[StepKey, StepRecord] = {}
    for step in steps:
        key = StepKey(step.asset, step.partition)
        seen = latest.get(key)
        if seen is None or (_order(step) >= _order(seen)):
            latest[key] = step
    return {key: step.status for key, step in latest.items()}


def _order(step: StepRecord) -> tuple[datetime, int]:
    return (step.ended_at or datetime.min.replace(tzinfo=timezone.utc), step.attempt)


def resume_run(project: Project, run_id: str, options: MaterializeOptions, *,
               sink: EventSink = discard) -> RunSummary:
    """Re-run the steps of a run that did not finish, reusing its successful ones.

    Resumed: every step the run planned to execute whose last row is failed, timed out,
    abandoned (the run crashed), canceled or skipped (upstream failed), or that has no row.
    The new run has `parent_run_id` = the resumed run. A resumed step that another run
    materialized since (and whose upstream is not re-run) is reused, not computed again.

    Args:
        options: executor, workers and actor; selection and tags come from the resumed run.

    Raises:
        UsageError: the run is still running or waiting for approval, has nothing to resume,
            or names assets the project no longer has.
    """
    store = open_store(project)
    reap_dead_runs(store)
    with store.reader() as reader:
        run = reader.get_run(run_id)
        planned = [StepKey(*k) for k in reader.planned_steps(run.run_id)]
        steps = reader.steps_for_run(run.run_id)
    if run.status is RunStatus.RUNNING:
        raise UsageError(f"run {run.run_id} is still running (pid {run.pid} on {run.host})",
                         hint=f"Wait for it to end, or stop it with `flowstone runs cancel "
                              f"{run.run_id}`.")
    if run.status is RunStatus.WAITING_APPROVAL:
        raise UsageError(f"run {run.run_id} is waiting for approval, not unfinished",
                         hint="Approve or reject its checkpoint (`flowstone checkpoints list`); "
                              "the next `flowstone materialize` then continues.")
    final = final_statuses(steps)
    if not planned:  # recorded before schema v3: the attempted steps are all we know
        planned = [k for k, status in final.items() if status is not StepStatus.UP_TO_DATE]
    todo = [k for k in planned if final.get(k) not in _DONE]
    if not todo:
        raise UsageError(f"run {run.run_id} has nothing to resume: every step it planned "
                         "succeeded or was up to date",
                         hint="Use `flowstone materialize` to run assets again.")
    missing = sorted({k.asset for k in todo} - set(project.definitions.assets))
    if missing:
        raise UsageError(f"run {run.run_id} cannot be resumed: the project no longer has "
                         f"asset(s) {', '.join(missing)}",
                         hint="Materialize what is left with `flowstone materialize`.")
    decided = _resume_plan(project, store, run, todo, final)
    tags, given = config_from_tags(run.tags or {})  # the resumed run's config, re-validated
    decided = replace(decided, config=validate_config(
        project.definitions, {k.asset for k in todo}, given))
    options = replace(options, selection=(run.selection or "").split(), tags=tags,
                      trigger="resume", backfill_id=run.backfill_id)
    return run_plan(project, store, decided, options, sink=sink, parent_run_id=run.run_id)


def _resume_plan(project: Project, store: MetadataStore, run: RunRecord, todo: list[StepKey],
                 final: dict[StepKey, StepStatus]) -> DecidedPlan:
    definitions = project.definitions
    partitions: dict[str, list[str | None]] = {}
    for key in todo:
        partitions.setdefault(key.asset, []).append(key.partition)
    order = tuple(a for a in definitions.order if a in partitions)
    selection = Selection(assets=order, reasons={a: f"unfinished in run {run.run_id}"
                                                 for a in order})
    now = datetime.now(timezone.utc)
    with store.reader() as reader:
        dynamic = reader.dynamic_keys()

    def mapper(asset: str, partition: str | None, up: str) -> list[str | None]:
        return upstream_keys(definitions.assets[asset], partition, definitions.assets[up],
                             now=now, dynamic_keys=dynamic)

    plan = build_plan(definitions, selection, upstream_keys=mapper, partitions_of={
        a: keys for a, keys in partitions.items()
        if definitions.assets[a].partitions is not None})
    assets = sorted({k.asset for s in plan.steps for k in (s.key, *s.upstream)})
    with store.reader() as reader:
        latest = reader.latest_materializations(assets)
    decisions: dict[StepKey, tuple[Action, str]] = {}
    rerun: set[StepKey] = set()
    for step in plan.steps:
        record = latest.get((step.key.asset, step.key.partition))
        if (record is not None and run.started_at is not None and record.started_at is not None
                and record.started_at > run.started_at
                and not any(up in rerun for up in step.upstream)):
            decisions[step.key] = (Action.SKIP, f"materialized since by run {record.run_id}")
            continue
        was = final.get(step.key)
        decisions[step.key] = (Action.RUN, f"resume of {run.run_id}: was "
                               f"{was.value if was else 'not started'}")
        rerun.add(step.key)
    current = {key: Current(rec.step_id, rec.data_version) for key, rec in latest.items()}
    keyed = frozenset((a, up) for a in order for up in definitions.assets[a].inputs
                      if is_keyed(definitions.assets[a], definitions.assets[up]))
    # Checkpoints in the resumed steps are gated like any run's (pending requests hold them).
    gated, approvals = apply_gates(plan.decide(decisions), definitions, store, current)
    return DecidedPlan(gated, current, keyed, approvals)

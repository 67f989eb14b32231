"""`materialize`: plan, decide what is stale, run on an executor, record everything."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flowstone_cli._version import __version__
from flowstone_cli.api import notify
from flowstone_cli.api.actor import current_actor
from flowstone_cli.api.telemetry import export_after_run
from flowstone_cli.api.gc import clean_run_folders
from flowstone_cli.api.launches import record_start_failure
from flowstone_cli.api.wiring import build_runtime, open_store
from flowstone_cli.execution.assembly import ProjectRunner, build_pool_gate
from flowstone_cli.durations import parse_duration
from flowstone_cli.errors import DefinitionError, FlowStoneError, UsageError
from flowstone_cli.events import EventSink, discard
from flowstone_cli.execution.claims import ClaimBook
from flowstone_cli.execution.coordinator import Coordinator, Current, RunSettings
from flowstone_cli.execution.liveness import process_token
from flowstone_cli.execution.executors.base import Executor
from flowstone_cli.execution.executors.inline import InlineExecutor
from flowstone_cli.execution.executors.process import ProcessExecutor
from flowstone_cli.execution.outcomes import RunSummary
from flowstone_cli.execution.recorder import RunRecorder
from flowstone_cli.execution.runtime import StepRuntime
from flowstone_cli.lineage.staleness import decide, failed_blocking_checks
from flowstone_cli.metadata.ids import new_run_id
from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.store import MetadataStore
from flowstone_cli.definitions.partitioning import is_keyed, upstream_keys
from flowstone_cli.definitions.run_config import config_hash, validate_config, with_config_tag
from flowstone_cli.planning.partition_selection import PartitionRequest, partitions_for
from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.planning.gates import behind_checkpoints, block, checkpoint_keys, gates
from flowstone_cli.planning.plan import Action, Plan, StepKey, build_plan
from flowstone_cli.api.selecting import select_from
from flowstone_cli.project.interpolate import redact
from flowstone_cli.project.loader import Project
from flowstone_cli.project.validation import memory_manager_problems


@dataclass(frozen=True)
class MaterializeOptions:
    """Options of one `materialize` call.

    Attributes:
        selection: selection terms.
        exclude: terms removed from the selection.
        force: run every selected step even when up to date.
        executor: "inline", "process" or "dask" (None: the project's default).
        workers: process count (None: the project's setting, else one per core); with "dask"
            and no address, the size of the local cluster.
        dask_address: the Dask scheduler (None: `[executor] address`, else a local cluster).
        fail_fast: stop scheduling new steps after the first failure.
        tags: run tags, visible to steps as `context.tags`.
        step_timeout: default step timeout, e.g. "10m".
        trigger: what started the run (cli, schedule:NAME, sensor:NAME, backfill).
        actor: who started it (default: $FLOWSTONE_ACTOR, else the OS user).
        command: the command line, for the audit trail.
        claim_timeout: seconds a step may wait for another run's claim (None: while the
            holder's heartbeat is fresh).
    """

    selection: Sequence[str]
    exclude: Sequence[str] = ()
    force: bool = False
    executor: str | None = None
    workers: int | None = None
    fail_fast: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    step_timeout: str | None = None
    partitions: PartitionRequest = field(default_factory=PartitionRequest)
    max_parallel: int | None = None
    dask_address: str | None = None
    backfill_id: str | None = None
    done: frozenset[tuple[str, str | None]] = frozenset()
    trigger: str = "cli"
    run_id: str | None = None
    actor: str | None = None
    command: str | None = None
    claim_timeout: float | None = None
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class DecidedPlan:
    """A plan with run/skip decisions, and the materializations consumers would read now."""

    plan: Plan
    current: dict[tuple[str, str | None], Current]
    keyed_inputs: frozenset[tuple[str, str]] = frozenset()
    approvals: dict[tuple[str, str | None], tuple[str, str]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)  # asset -> validated config JSON


def decided_plan(project: Project, store: MetadataStore, selection: Sequence[str],
                 exclude: Sequence[str] = (), *, force: bool = False,
                 partitions: PartitionRequest | None = None,
                 done: set[tuple[str, str | None]] | None = None,
                 config: Mapping[str, Mapping[str, Any]] | None = None) -> DecidedPlan:
    """The plan for a selection with each step marked run (and why) or skip (up to date).

    Args:
        partitions: the partitions asked for (required when partitioned assets are selected).
        done: steps to skip as already done (a resumed backfill's finished steps).
        config: run config values by asset (`--config`); validated here, before any step runs.
    """
    definitions = project.definitions
    chosen = select_from(project, store, selection, exclude)
    configs = validate_config(definitions, chosen.assets, config or {})
    now = datetime.now(timezone.utc)
    dynamic: dict[str, list[str]] = {}
    if store.exists() and any(definitions.assets[a].partitions is not None for a in chosen.assets):
        with store.reader() as reader:
            dynamic = reader.dynamic_keys()
    partitions_of = partitions_for(definitions, chosen, partitions or PartitionRequest(),
                                   now=now, dynamic_keys=dynamic)

    def mapper(asset: str, partition: str | None, up: str) -> list[str | None]:
        return upstream_keys(definitions.assets[asset], partition, definitions.assets[up],
                             now=now, dynamic_keys=dynamic)

    plan = build_plan(definitions, chosen, partitions_of=partitions_of, upstream_keys=mapper)
    assets = {k.asset for s in plan.steps for k in (s.key, *s.upstream)}
    latest, attempts, consumed, blocked = {}, {}, {}, {}
    if store.exists():  # a fresh project has no history; do not even load DuckDB for it
        with store.reader() as reader:
            latest = reader.latest_materializations(sorted(assets))
            attempts = reader.latest_attempts(sorted({s.key.asset for s in plan.steps}))
            consumed = reader.lineage_for_steps([m.step_id for m in latest.values()])
            blocked = failed_blocking_checks(definitions, latest, reader.check_verdicts)
    decided = decide(plan, definitions, latest=latest, attempts=attempts, consumed=consumed,
                     now=now, force=force, done=done or set(), blocked=blocked,
                     config_hashes={a: config_hash(text) for a, text in configs.items()})
    decided = hold_behind_failed_checks(decided, latest, blocked)
    current = {key: Current(rec.step_id, rec.data_version) for key, rec in latest.items()}
    keyed = frozenset((a, up) for a in chosen.assets for up in definitions.assets[a].inputs
                      if is_keyed(definitions.assets[a], definitions.assets[up]))
    decided, approvals = apply_gates(decided, definitions, store, current)
    decided = hold_behind_refused(decided, definitions, store, latest)
    return DecidedPlan(decided, current, keyed, approvals, configs)


def hold_behind_refused(plan: Plan, definitions: Any, store: MetadataStore,
                        latest: dict) -> Plan:
    """Skip steps whose input is a checkpoint never stored because it is waiting for approval
    or was rejected (and that this plan does not run), saying so."""
    keys = sorted({(up.asset, up.partition) for step in plan.to_run for up in step.upstream
                   if isinstance(definitions.assets[up.asset], CheckpointSpec)
                   and (up.asset, up.partition) not in latest}, key=str)
    if not keys or not store.exists():
        return plan
    with store.reader() as reader:
        requests = reader.latest_checkpoint_requests(keys)
    return behind_checkpoints(plan, requests)


def hold_behind_failed_checks(plan: Plan, latest: dict, blocked: dict[str, str]) -> Plan:
    """Skip steps that would read a value whose blocking checks failed (when that value is
    not recomputed in this plan): bad data does not flow downstream."""
    if not blocked:
        return plan
    held: dict[StepKey, tuple[Action, str]] = {}
    for step in plan.to_run:
        for up in step.upstream:
            cur = latest.get((up.asset, up.partition))
            if cur is not None and cur.step_id in blocked and not (
                    up in plan and plan.get(up).action is Action.RUN):
                held[step.key] = (Action.BLOCKED, f"upstream {up} {blocked[cur.step_id]}")
                break
    return plan.decide(held) if held else plan


def apply_gates(plan: Plan, definitions: Any, store: MetadataStore,
                 current: dict[tuple[str, str | None], Current]) -> tuple[Plan, dict]:
    """Hold checkpoint steps whose newest request is pending or refused; let approved values
    through (see `planning/gates.py`). A checkpoint whose upstream runs in this plan will
    review the new value instead."""
    keys = [k for k in checkpoint_keys(plan, definitions)
            if not any(up in plan and plan.get(up).action is Action.RUN
                       for up in plan.get(StepKey(*k)).upstream)]
    if not keys or not store.exists():
        return plan, {}
    with store.reader() as reader:
        requests = reader.latest_checkpoint_requests(keys)
    upstream_now = {}
    for key in keys:
        step = plan.get(StepKey(*key))
        if step.inputs and (cur := current.get((step.inputs[0].asset,
                                                step.inputs[0].partition))) is not None:
            upstream_now[key] = cur.step_id
    found = gates(plan, definitions, {k: v for k, v in requests.items() if k in keys},
                  upstream_now)
    return block(plan, found.blocked), dict(found.approvals)


def _executor(project: Project, plan: Plan, options: MaterializeOptions,
              runtime: StepRuntime | None = None) -> Executor:
    if runtime is not None:  # given by flowstone_cli.testing: fake resources, memory storage
        return InlineExecutor(runtime)
    kind = options.executor or project.config.executor.type
    problems = memory_manager_problems(
        [project.definitions.assets[s.key.asset] for s in plan.to_run], project.config, kind)
    if problems:
        raise DefinitionError(problems)
    assets = sorted({s.key.asset for s in plan.to_run})
    if kind == "inline":
        if options.step_timeout or project.config.executor.step_timeout:
            raise UsageError(
                "the inline executor cannot enforce a step timeout (steps run in this process)",
                hint="Drop --step-timeout (or [executor] step_timeout), or use "
                     "--executor process, which kills a step past its timeout.")
        return InlineExecutor(build_runtime(project, assets))
    workers = options.workers or project.config.executor.workers or os.cpu_count() or 1
    workers = max(1, min(workers, max(1, len(plan.to_run))))
    if kind == "dask":
        from flowstone_cli.api.cluster import dask_executor

        return dask_executor(project, assets, workers=workers,
                             address=options.dask_address or project.config.executor.address)
    start_method = project.config.executor.start_method
    if start_method == "fork":
        # Workers inherit the loaded project and runtime: nothing is pickled to them.
        runtime = build_runtime(project, assets)
        return ProcessExecutor(runtime.run, teardown=runtime.resources.teardown,
                               workers=workers, start_method=start_method)
    # Other start methods pickle the runner: it carries only the project folder and asset
    # names, and each worker loads the project itself, so no resolved secret is pickled.
    runner = ProjectRunner(str(project.root), assets)
    return ProcessExecutor(runner, teardown=runner.teardown, workers=workers,
                           start_method=start_method)


def materialize(project: Project, options: MaterializeOptions, *,
                sink: EventSink = discard, runtime: StepRuntime | None = None) -> RunSummary:
    """Run a selection and record it; returns the summary (see `RunSummary.exit_code`).

    `runtime` runs every step inline in it (the testing helpers pass one with fake resources).
    """
    store = open_store(project)
    try:
        decided = decided_plan(project, store, options.selection, options.exclude,
                               force=options.force, partitions=options.partitions,
                               done=set(options.done), config=options.config)
        return run_plan(project, store, decided, options, sink=sink, runtime=runtime)
    except FlowStoneError as exc:
        if options.run_id is not None and options.trigger != "cli":
            # A launched run (schedule, sensor, timeout) that cannot start: record it failed
            # now; if it already recorded itself, this does nothing.
            record_start_failure(project, store, run_id=options.run_id,
                                 trigger=options.trigger,
                                 selection=" ".join(options.selection), error=exc.message)
        raise


def run_plan(project: Project, store: MetadataStore, decided: DecidedPlan,
             options: MaterializeOptions, *, sink: EventSink = discard,
             parent_run_id: str | None = None,
             runtime: StepRuntime | None = None) -> RunSummary:
    """Run a decided plan as a new run (`runs resume` passes the run it resumes as parent).

    The run record, the steps it will execute and its claims on them are written in one
    session; steps another live run is computing wait for it (see `execution/claims.py`).
    """
    plan = decided.plan
    timeout = options.step_timeout or project.config.executor.step_timeout
    settings = RunSettings(fail_fast=options.fail_fast,
                           step_timeout=parse_duration(timeout, what="--step-timeout")
                           .total_seconds() if timeout else None,
                           tags=dict(options.tags), keyed_inputs=decided.keyed_inputs,
                           max_parallel=options.max_parallel, approvals=decided.approvals,
                           backfill_id=options.backfill_id, config=decided.config)
    now = datetime.now(timezone.utc)
    run_id = options.run_id or new_run_id()
    command = options.command if options.command is not None else " ".join(
        ["flowstone", *sys.argv[1:]])
    record = RunRecord(run_id=run_id, status=RunStatus.RUNNING, trigger=options.trigger,
                       selection=" ".join(options.selection),
                       command=redact(command, project.secrets),
                       actor=current_actor(options.actor), host=socket.gethostname(),
                       pid=os.getpid(), flowstone_version=__version__, started_at=now,
                       heartbeat_at=now, tags=with_config_tag(options.tags, decided.config),
                       backfill_id=options.backfill_id, parent_run_id=parent_run_id)
    known = {key: cur.step_id for key, cur in decided.current.items()}
    claims = ClaimBook(run_id, [s.key for s in plan.to_run],
                       process_token=process_token(os.getpid()),
                       known=lambda k: known.get((k.asset, k.partition)),
                       claim_timeout=options.claim_timeout)
    recorder = RunRecorder(store, run_id, redact=lambda text: redact(text, project.secrets))
    try:  # temporary files of writers killed earlier, in the folders this run writes to
        clean_run_folders(project, [s.key for s in plan.to_run])
    except OSError as exc:
        logging.getLogger("flowstone.gc").warning("leftover temporary files: %s", exc)
    # Workers are forked before any metadata connection is opened for this run (never fork
    # with a DuckDB connection open, see RELIABILITY.md); later flushes use short sessions.
    executor = _executor(project, plan, options, runtime)
    # The run starts now that its workers (or cluster) are up: the duration it reports and
    # the one `runs list` shows are measured from this same instant.
    start = datetime.now(timezone.utc)
    record = dataclasses.replace(record, started_at=start, heartbeat_at=start)
    try:
        recorder.start(record, claims.begin)
    except BaseException:
        executor.shutdown()
        raise
    coordinator = Coordinator(run_id=run_id, plan=plan, definitions=project.definitions,
                              executor=executor, recorder=recorder, current=decided.current,
                              sink=sink, settings=settings, claims=claims,
                              pools=build_pool_gate(project), started_at=start)
    summary = coordinator.run()
    _announce(project, store, summary)
    export_after_run(project, store, summary.run_id)
    return summary


def _announce(project: Project, store: MetadataStore, summary: RunSummary) -> None:
    """Queue and deliver the notifications a run causes: new approval requests, failure.

    A notification problem is logged and retried by `tick`; it never changes the run.
    """
    try:
        with store.reader() as reader:
            requests = reader.list_checkpoints(status="pending", run_id=summary.run_id)
        failed = summary.status is RunStatus.FAILED and notify.failure_targets(project)
        if not requests and not failed:
            return
        with store.writer() as writer:
            for request in requests:
                spec = project.definitions.assets.get(request.checkpoint)
                notify.queue(writer, project, getattr(spec, "notify", ()),
                             "checkpoint_requested",
                             {"request_id": request.request_id,
                              "checkpoint": request.checkpoint,
                              "partition": request.partition, "run_id": summary.run_id,
                              "summary": request.summary, "timeout_at": request.timeout_at,
                              "approve": f"flowstone approve {request.request_id}"})
            if failed:
                notify.queue(writer, project, notify.failure_targets(project), "run_failed",
                             {"run_id": summary.run_id, "counts": summary.counts,
                              "failed": [str(o.key) for o in summary.failures]})
        notify.deliver_pending(project, store)
    except FlowStoneError as exc:
        logging.getLogger("flowstone.notifications").warning("notifications: %s", exc.message)

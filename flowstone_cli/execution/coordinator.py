"""The coordinator: runs a decided plan on an executor and records everything.

Each step starts as soon as the steps it waits for are done (not layer by layer). A failed step
is retried under its policy; when it finally fails, everything downstream of it is recorded as
skipped with the reason, while independent branches go on. Ctrl-C cancels cleanly, and so does a
cancel request found in the store (`runs cancel`). With a `ClaimBook`, a step another live run is
computing waits for it and reuses its result (see `execution/claims.py`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.durations import parse_duration
from flowstone_cli.events import Event, EventKind, EventSink, Level
from flowstone_cli.execution.batching import BatchLaunching
from flowstone_cli.execution.step_results import Current, ResultHandling
from flowstone_cli.execution.claims import CancelRequested, ClaimBook, ClaimUpdate
from flowstone_cli.execution.executors.base import Executor
from flowstone_cli.execution.interrupts import hold_sigint, release_sigint
from flowstone_cli.execution.outcomes import RunSummary, StepOutcome
from flowstone_cli.execution.recorder import RunRecorder, event_kind_for_status, utc
from flowstone_cli.execution.checkpointing import is_waiting
from flowstone_cli.execution.tasks import InputRef, StepTask
from flowstone_cli.execution.throttling import POOL_POLL_SECONDS, PoolGate, RequeueBudget
from flowstone_cli.io.publish import fsync_directory
from flowstone_cli.metadata.ids import new_id
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import RunStatus, StepStatus
from flowstone_cli.planning.plan import Action, Plan, StepKey

Key = tuple[str, "str | None"]


@dataclass
class RunSettings:
    """How the coordinator behaves for one run.

    Attributes:
        fail_fast: stop scheduling new steps after the first failure.
        step_timeout: default timeout in seconds for steps without their own.
        tags: the run's tags, passed to every step's context.
        keyed_inputs: (asset, upstream) pairs whose parameter receives a dict by partition.
        max_parallel: at most this many distinct partitions have steps in flight (backfills).
    """

    fail_fast: bool = False
    step_timeout: float | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    keyed_inputs: frozenset[tuple[str, str]] = frozenset()
    config: Mapping[str, str] = field(default_factory=dict)  # asset -> validated config JSON
    max_parallel: int | None = None
    approvals: Mapping[tuple[str, str | None], tuple[str, str]] = field(default_factory=dict)
    backfill_id: str | None = None


class Coordinator(ResultHandling, BatchLaunching):
    """Runs one plan (batch assets such as dbt models go in groups, see `batching.py`).

    Args:
        run_id: the run's id (its record is already written).
        plan: the decided plan (each step marked run or skip).
        definitions: the project's definitions.
        executor: where steps run.
        recorder: buffered metadata writer for this run.
        current: (asset, partition) -> materialization consumers read now.
        sink: receives every event (the CLI renders them).
        settings: fail-fast, timeouts, tags.
        clock: injectable for tests.
        claims: the run's claims, already taken in its start session (None: no claims, no
            cancel requests).
        pools: the machine-wide pool slots (None: no `[pools]` configured).
    """

    def __init__(self, *, run_id: str, plan: Plan, definitions: Definitions, executor: Executor,
                 recorder: RunRecorder, current: Mapping[Key, Current], sink: EventSink,
                 settings: RunSettings, clock: Callable[[], float] = time.time,
                 claims: ClaimBook | None = None,
                 pools: PoolGate[StepKey] | None = None,
                 started_at: datetime | None = None) -> None:
        self.run_id = run_id
        self.plan = plan
        self.definitions = definitions
        self.executor = executor
        self.recorder = recorder
        self.current: dict[Key, Current] = dict(current)
        self.sink = sink
        self.settings = settings
        self.clock = clock
        self.outcomes: dict[StepKey, StepOutcome] = {}
        self._waiting: dict[StepKey, set[StepKey]] = {}
        self._children: dict[StepKey, list[StepKey]] = {}
        self._ready: deque[StepKey] = deque()
        self._delayed: list[tuple[float, StepKey, int]] = []
        self._running: dict[str, tuple[StepKey, int, float]] = {}
        self._stop_scheduling = False
        # The run's recorded start: its duration is measured between the same two recorded
        # instants in the summary and in `runs list`.
        self._started_at = started_at if started_at is not None else utc(clock())
        self._started = self._started_at.timestamp()
        self._unsynced_dirs: set[str] = set()
        self.claims = claims
        self.pools = pools if pools is not None else PoolGate.disabled()
        self._requeues: RequeueBudget[StepKey] = RequeueBudget()
        self._batches: dict[str, tuple[StepTask, ...]] = {}
        self._held_batches: set[StepKey] = set()
        self._release_held = False

    # -- events -------------------------------------------------------------------------
    def _emit(self, kind: EventKind, message: str, *, key: StepKey | None = None,
              step_id: str | None = None, level: Level = Level.INFO,
              data: dict | None = None) -> None:
        event = Event(kind=kind, run_id=self.run_id, message=message,
                      asset=key.asset if key else None, partition=key.partition if key else None,
                      step_id=step_id, level=level, data=data or {})
        self.recorder.event(event)
        self.sink(event)

    # -- set-up -------------------------------------------------------------------------
    def _prepare(self) -> None:
        to_run = {s.key for s in self.plan.steps if s.action is not Action.SKIP}
        blocked = [s for s in self.plan.steps if s.action is Action.BLOCKED]
        for step in self.plan.steps:
            if step.action is Action.SKIP:
                self._record_up_to_date(step.key, step.reason)
                continue
            waits = {up for up in step.upstream if up in to_run}
            self._waiting[step.key] = waits
            for up in waits:
                self._children.setdefault(up, []).append(step.key)
            if not waits:
                self._ready.append(step.key)
        for step in blocked:
            # A checkpoint held by a pending or refused request: it and its downstream wait.
            status = StepStatus.WAITING_APPROVAL if is_waiting(step.reason) \
                else StepStatus.SKIPPED
            self._record_skip(step.key, step.reason, status)
            self._skip_downstream(step.key, step.reason)

    def _record_up_to_date(self, key: StepKey, reason: str) -> None:
        now = utc(self.clock())
        current = self.current.get((key.asset, key.partition))
        step_id = new_id()
        self.recorder.step(StepRecord(
            step_id=step_id, run_id=self.run_id, asset=key.asset,
            partition=key.partition, attempt=0, status=StepStatus.UP_TO_DATE,
            reason=reason, started_at=now, ended_at=now, duration_ms=0.0,
            code_version=self.definitions.assets[key.asset].code_version,
            data_version=current.data_version if current else None,
            metadata={"materialization": current.step_id} if current else {}))
        self.outcomes[key] = StepOutcome(key, StepStatus.UP_TO_DATE, reason)
        self._emit(EventKind.STEP_UP_TO_DATE, f"{key} is up to date" + (
            "" if reason == "up to date" else f" ({reason})"), key=key, step_id=step_id,
            level=Level.DEBUG)

    # -- scheduling ---------------------------------------------------------------------
    def _timeout_for(self, asset: str) -> float | None:
        spec = self.definitions.assets[asset]
        if spec.timeout is not None:
            return parse_duration(spec.timeout, what="timeout").total_seconds()
        return self.settings.step_timeout

    def _task_for(self, key: StepKey, attempt: int) -> StepTask:
        step = self.plan.get(key)
        inputs: list[InputRef] = []
        for up in step.upstream:
            current = self.current.get((up.asset, up.partition))
            param = up.asset if up in step.inputs else None
            keyed = (key.asset, up.asset) in self.settings.keyed_inputs
            inputs.append(InputRef(param=param, asset=up.asset, partition=up.partition,
                                   keyed=keyed, step_id=current.step_id if current else None,
                                   data_version=current.data_version if current else None))
        keyed = tuple(p for p in self.definitions.assets[key.asset].inputs
                      if (key.asset, p) in self.settings.keyed_inputs)
        return StepTask(step_id=new_id(), run_id=self.run_id, asset=key.asset,
                        partition=key.partition, attempt=attempt, inputs=tuple(inputs),
                        tags=tuple(sorted(self.settings.tags.items())), keyed_params=keyed,
                        approval=self.settings.approvals.get((key.asset, key.partition)),
                        config=self.settings.config.get(key.asset))

    def _submit_ready(self) -> None:
        self._requeue_held_batches()
        now = self.clock()
        due = [item for item in self._delayed if item[0] <= now]
        self.pools.waiting = False
        for item in due:
            self._delayed.remove(item)
            if not self.pools.admit(item[1], item[1].asset):
                self._delayed.append((now + POOL_POLL_SECONDS, item[1], item[2]))
                continue
            self._launch(item[1], item[2])
        limit = self.settings.max_parallel
        deferred: list[StepKey] = []
        while self._ready and not self._stop_scheduling and (
                self._tasks_in_flight() < self.executor.capacity * 2):
            key = self._ready.popleft()
            if self._waits_for_other_run(key):
                continue
            if limit and key.partition is not None:
                in_flight = {k.partition for k, _, _ in self._running.values()}
                if key.partition not in in_flight and len(in_flight) >= limit:
                    deferred.append(key)
                    continue
            if not self.pools.admit(key, key.asset):
                deferred.append(key)  # its pool is full: it waits, other steps go on
                continue
            self._launch(key, 1)
        self._ready.extendleft(reversed(deferred))

    def _waits_for_other_run(self, key: StepKey) -> bool:
        if self.claims is None:
            return False
        settled = self.claims.settled.pop(key, None)
        if settled is not None:
            self._reuse(key, settled)
            return True
        holder = self.claims.waits_on(key)
        if holder is None:
            return False
        self.claims.block(key)
        bound = (f"at most {self.claims.claim_timeout:g}s" if self.claims.claim_timeout
                 is not None else "while its heartbeat is fresh")
        self._emit(EventKind.STEP_WAITING, f"{key} is being computed by run {holder}; waiting "
                   f"for it ({bound})", key=key, data={"run_id": holder})
        return True

    def _launch(self, key: StepKey, attempt: int) -> None:
        if self._is_batched(key):
            self._launch_batch(key, attempt)
            return
        task = self._task_for(key, attempt)
        missing = [ref for ref in task.inputs if ref.step_id is None]
        if missing:
            self.pools.release(key)
            names = ", ".join(str(StepKey(r.asset, r.partition)) for r in missing)
            self._finish_failed(key, task.step_id, attempt, self.clock(), "missing_input",
                                f"input {names} of {key} has never been materialized",
                                "Materialize the upstream first, e.g. select `+"
                                f"{key.asset}`.")
            return
        self._running[task.step_id] = (key, attempt, self.clock())
        self.executor.submit(task, timeout=self._timeout_for(key.asset))
        self._emit(EventKind.STEP_STARTED, f"{key} started" +
                   (f" (attempt {attempt})" if attempt > 1 else ""), key=key,
                   step_id=task.step_id, level=Level.DEBUG, data={"attempt": attempt})

    def _release(self, key: StepKey) -> None:
        for child in self._children.get(key, ()):
            waits = self._waiting.get(child)
            if waits is None or child in self.outcomes:
                continue
            waits.discard(key)
            if not waits:
                self._ready.append(child)

    def _skip_downstream(self, key: StepKey, reason: str,
                         status: StepStatus = StepStatus.SKIPPED) -> None:
        stack = list(self._children.get(key, ()))
        while stack:
            child = stack.pop()
            if child in self.outcomes:
                continue
            self._record_skip(child, reason, status)
            stack.extend(self._children.get(child, ()))

    def _record_skip(self, key: StepKey, reason: str, status: StepStatus) -> None:
        now = utc(self.clock())
        step_id = new_id()
        self.recorder.step(StepRecord(
            step_id=step_id, run_id=self.run_id, asset=key.asset, partition=key.partition,
            attempt=0, status=status, reason=reason, started_at=now, ended_at=now,
            duration_ms=0.0, code_version=self.definitions.assets[key.asset].code_version))
        self.outcomes[key] = StepOutcome(key, status, reason, step_id=step_id)
        self._emit(event_kind_for_status(status.value), f"{key} {status.value}: {reason}",
                   key=key, step_id=step_id, level=Level.WARNING)
        try:
            self._ready.remove(key)
        except ValueError:
            pass

    # -- main loop ----------------------------------------------------------------------
    def run(self) -> RunSummary:
        """Execute the plan; returns the summary (the run record is closed)."""
        dashboard = getattr(self.executor, "dashboard", None)
        self._emit(EventKind.RUN_STARTED, f"run {self.run_id} started: "
                   f"{len(self.plan.to_run)} of {len(self.plan)} steps to run" +
                   (f" (dashboard: {dashboard})" if dashboard else ""),
                   data={"steps": len(self.plan), "to_run": len(self.plan.to_run),
                         "slots": self._slots(),
                         **({"dashboard": dashboard} if dashboard else {})})
        held = None
        try:
            try:
                status = self._execute()
            finally:
                self.pools.release_all()
                # A Ctrl-C (or `runs cancel`) from here on would leave the run recorded as
                # running with its outcome lost; it is held back until the outcome is committed.
                held = hold_sigint()
                self.executor.shutdown()
            ended_at = max(utc(self.clock()), self._started_at)
            summary = RunSummary.build(self.run_id, self.plan, self.outcomes, status,
                                       (ended_at - self._started_at).total_seconds())
            self._emit(EventKind.RUN_FINISHED, f"run {self.run_id} {summary.status.value}",
                       data=summary.counts)
            self._flush(final=True, status=summary.status, ended_at=ended_at,
                        summary=summary.to_record())
        finally:
            release_sigint(held)
        return summary

    def _slots(self) -> int:
        """How many steps can run at once: the executor's worker threads (tasks submitted
        beyond that wait in its queue)."""
        threads = getattr(self.executor, "threads", None)
        return max(1, threads if isinstance(threads, int) else self.executor.capacity)

    def _execute(self) -> RunStatus:
        try:
            self._prepare()
            while (self._ready or self._running or self._delayed or self._blocked
                   or self._held_batches):
                self._submit_ready()
                if not self._running and not self._delayed and (
                        self._stop_scheduling or not (self._ready or self._blocked)):
                    break
                polling = bool(self._blocked)
                timeout = self.recorder.seconds_until_due(polling=polling)
                if self._delayed:
                    timeout = min(timeout, max(0.0, min(d[0] for d in self._delayed)
                                               - self.clock()))
                if self.pools.waiting:
                    timeout = min(timeout, POOL_POLL_SECONDS)  # another run may free a slot
                if self._running:
                    for result in self.executor.wait(timeout):
                        self._handle(result)
                else:
                    # Only retries or other runs' claims are pending: sleep until one is due.
                    time.sleep(max(0.0, min(timeout, 1.0)))
                if self.recorder.due(polling=polling):
                    self._flush()
            for key in [s.key for s in self.plan.steps if s.key not in self.outcomes]:
                self._record_skip(key, "not started: fail-fast after a failure",
                                  StepStatus.SKIPPED)
        except KeyboardInterrupt:  # Ctrl-C, or CancelRequested from a flush
            for result in self.executor.cancel_all():
                if result.step_id in self._running or result.step_id in self._batches:
                    self._handle(result)
            for key in [s.key for s in self.plan.steps if s.key not in self.outcomes]:
                self._record_skip(key, "run canceled", StepStatus.CANCELED)
            return RunStatus.CANCELED
        return RunStatus.SUCCEEDED

    @property
    def _blocked(self) -> set[StepKey]:
        return self.claims.blocked if self.claims is not None else set()

    def _flush(self, *, final: bool = False, **run_fields: object) -> None:
        # Data first, then metadata: make the renames of the values about to be recorded
        # durable (one fsync per directory, not per value) before the records are committed.
        for directory in sorted(self._unsynced_dirs):
            fsync_directory(directory)
        self._unsynced_dirs.clear()
        claims = self.claims
        if claims is None:
            self.recorder.flush(**run_fields)
            return
        # Claims of finished steps are released in the session that records them.
        update = self.recorder.flush(hook=lambda writer: claims.sync(
            writer, self.outcomes, final=final), **run_fields)
        if update is not None and not final:
            self._apply(update)

    def _apply(self, update: ClaimUpdate) -> None:
        for key, reason in update.given_up.items():
            self._finish_failed(key, new_id(), 1, self.clock(), "claim_timeout", reason,
                                "Look at that run (`flowstone runs show RUN_ID`): cancel it "
                                "or wait for it, then run again; --claim-timeout bounds the "
                                "wait.")
        for key, record in update.reused.items():
            self._reuse(key, record)
        self._ready.extendleft(update.taken)
        if update.cancel_requested:
            raise CancelRequested(f"run {self.run_id} was asked to cancel")

    def _reuse(self, key: StepKey, record: StepRecord) -> None:
        """Another run materialized `key`: read its value from now on, as if up to date."""
        self.current[(key.asset, key.partition)] = Current(record.step_id, record.data_version)
        self._record_up_to_date(key, f"materialized by run {record.run_id}")
        self._release(key)


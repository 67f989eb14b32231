"""Multi-asset steps: the coordinator's side of batch assets (dbt models).

When a step of a batch asset becomes ready, the coordinator does not launch it alone: it gathers
every step of the plan with the same batch runner and partition whose outstanding upstreams are
all inside the group (so a chain of dbt models whose Python inputs are done goes as one group),
and submits one batch task. Each member keeps its own step id, so it is recorded, retried,
failed and skipped exactly like any other step; only the launch and the result are shared.
A member that fails (a failing dbt test) skips its downstream in the usual way; members the
tool itself skipped for that reason are dropped because the coordinator already skipped them.

`BatchLaunching` is mixed into the `Coordinator`; it uses the coordinator's scheduling state
(`plan`, `definitions`, `_waiting`, `_running`, `_ready`, `_delayed`, `outcomes`) and its
`_task_for`, `_timeout_for`, `_finish_failed`, `_emit` and `_handle`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from flowstone_cli.definitions.batch import is_batched
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.events import EventKind, Level
from flowstone_cli.execution.tasks import StepResult, StepTask
from flowstone_cli.metadata.ids import new_id
from flowstone_cli.planning.plan import Plan, StepKey

if TYPE_CHECKING:
    from flowstone_cli.execution.executors.base import Executor
    from flowstone_cli.execution.outcomes import StepOutcome


def expand_batch_result(result: StepResult, members: tuple[StepTask, ...]) -> list[StepResult]:
    """One result per member task, in the batch's order.

    A batch that reported per-member results keeps them; a batch that failed as a whole
    (the tool could not start, the worker crashed, timed out or was canceled) gives every
    member its status and error; its log lines go with the first member.
    """
    reported = {member.step_id: member for member in result.members}
    expanded: list[StepResult] = []
    for index, task in enumerate(members):
        own = reported.get(task.step_id)
        if own is None:
            own = replace(result, step_id=task.step_id, members=(),
                          logs=result.logs if index == 0 else ())
        expanded.append(own)
    return expanded


def combined_timeout(timeouts: list[float | None]) -> float | None:
    """A batch may run as long as its members together; None when any member has no limit."""
    if not timeouts or any(t is None for t in timeouts):
        return None
    return float(sum(t for t in timeouts if t is not None))


class BatchLaunching:
    """Coordinator methods that launch batch steps together and take their results apart."""

    # Provided by the Coordinator.
    plan: Plan
    definitions: Definitions
    executor: Executor
    outcomes: dict[StepKey, StepOutcome]
    clock: Callable[[], float]
    _waiting: dict[StepKey, set[StepKey]]
    _running: dict[str, tuple[StepKey, int, float]]
    _ready: deque[StepKey]
    _delayed: list[tuple[float, StepKey, int]]
    _children: dict[StepKey, list[StepKey]]
    _batches: dict[str, tuple[StepTask, ...]]
    _held_batches: set[StepKey]
    _release_held: bool
    _task_for: Callable[[StepKey, int], StepTask]
    _timeout_for: Callable[[str], float | None]
    _finish_failed: Callable[..., None]
    _emit: Callable[..., None]
    _handle: Callable[[StepResult], None]

    def _tasks_in_flight(self) -> int:
        """Tasks submitted and not finished: a batch counts once, however many steps it has."""
        return len(self._running) - sum(len(m) - 1 for m in self._batches.values())

    def _is_batched(self, key: StepKey) -> bool:
        return is_batched(self.definitions.assets[key.asset])

    def _candidates(self, first: StepKey) -> set[StepKey]:
        """Steps not started yet that could share `first`'s tool invocation."""
        runner_key = self.definitions.assets[first.asset].runner.key
        running = {k for k, _, _ in self._running.values()}
        delayed = {k for _, k, _ in self._delayed}
        found = {first}
        for step in self.plan.steps:
            key = step.key
            if (key in self.outcomes or key in running or key in delayed
                    or key.partition != first.partition or key not in self._waiting):
                continue
            spec = self.definitions.assets[key.asset]
            if is_batched(spec) and spec.runner.key == runner_key:
                found.add(key)
        return found

    def _holds(self, first: StepKey) -> set[StepKey]:
        """Unfinished steps outside the group that members wait for and that do not depend
        on a member themselves: worth waiting for, so that the tool runs once, not twice."""
        candidates = self._candidates(first)
        downstream: set[StepKey] = set()
        stack = [child for key in candidates for child in self._children.get(key, ())]
        while stack:
            key = stack.pop()
            if key not in downstream:
                downstream.add(key)
                stack.extend(self._children.get(key, ()))
        outstanding = set().union(*(self._waiting.get(k, set()) for k in candidates))
        return {k for k in outstanding - candidates - downstream if k not in self.outcomes}

    def _requeue_held_batches(self) -> None:
        """Put held batch steps back in the ready queue once nothing holds them (or nothing
        else can move, which guards against two groups holding each other)."""
        if not self._held_batches:
            return
        stuck = not (self._running or self._ready or self._delayed)
        for key in list(self._held_batches):
            if key in self.outcomes:
                self._held_batches.discard(key)
            elif stuck or not self._holds(key):
                self._held_batches.discard(key)
                self._ready.append(key)
                self._release_held = self._release_held or stuck

    def _batch_group(self, first: StepKey) -> list[StepKey]:
        """`first` and every step of the plan that can run in the same tool invocation."""
        definitions = self.definitions
        runner_key = definitions.assets[first.asset].runner.key
        running = {k for k, _, _ in self._running.values()}
        delayed = {k for _, k, _ in self._delayed}
        group, members = [first], {first}
        for step in self.plan.steps:
            key = step.key
            if (key in members or key in self.outcomes
                    or key in running or key in delayed or key.partition != first.partition):
                continue
            spec = definitions.assets[key.asset]
            if not is_batched(spec) or spec.runner.key != runner_key:
                continue
            outstanding = self._waiting.get(key)
            if outstanding is not None and outstanding <= members:
                group.append(key)
                members.add(key)
        order = {step.key: index for index, step in enumerate(self.plan.steps)}
        return sorted(group, key=order.__getitem__)

    def _launch_batch(self, first: StepKey, attempt: int) -> None:
        """Launch `first` together with the rest of its group as one batch task, or hold it
        while independent upstreams of other members still run."""
        if attempt == 1 and not self._release_held and self._holds(first):
            self._held_batches.add(first)
            return
        keys = self._batch_group(first)
        tasks: list[StepTask] = []
        for key in keys:
            if key in self.outcomes:
                continue  # skipped because a member before it had a missing input
            task = self._task_for(key, attempt if key == first else 1)
            missing = [ref for ref in task.inputs if ref.step_id is None
                       and StepKey(ref.asset, ref.partition) not in keys]
            if missing:
                names = ", ".join(str(StepKey(r.asset, r.partition)) for r in missing)
                self._finish_failed(key, task.step_id, task.attempt,
                                    self.clock(), "missing_input",
                                    f"input {names} of {key} has never been materialized",
                                    f"Materialize the upstream first, e.g. select `+{key.asset}`.")
                continue
            tasks.append(task)
        tasks = [t for t in tasks if StepKey(t.asset, t.partition)
                 not in self.outcomes]
        if not tasks:
            return
        for task in tasks:
            key = StepKey(task.asset, task.partition)
            if key != first:
                try:
                    self._ready.remove(key)
                except ValueError:
                    pass
            self._running[task.step_id] = (key, task.attempt, self.clock())
            # Launched with its upstream members: finishing them must not make it ready again.
            self._waiting.pop(key, None)
        batch = StepTask(step_id=new_id(), run_id=tasks[0].run_id, asset=tasks[0].asset,
                         partition=tasks[0].partition, attempt=1, batch=tuple(tasks))
        self._batches[batch.step_id] = batch.batch
        timeout = combined_timeout([self._timeout_for(t.asset)
                                    for t in tasks])
        self.executor.submit(batch, timeout=timeout)
        runner_key = self.definitions.assets[first.asset].runner.key
        for task in tasks:
            self._emit(EventKind.STEP_STARTED, f"{task.label} started in batch "
                       f"{batch.step_id} ({runner_key}, {len(tasks)} steps)",
                       key=StepKey(task.asset, task.partition), step_id=task.step_id,
                       level=Level.DEBUG, data={"attempt": task.attempt,
                                                "batch_id": batch.step_id,
                                                "batch_size": len(tasks)})

    def _handle_batch(self, result: StepResult) -> bool:
        """Record a batch task's result member by member; False if it is not a batch's."""
        members = self._batches.pop(result.step_id, None)
        if members is None:
            return False
        for member in expand_batch_result(result, members):
            entry = self._running.get(member.step_id)
            if entry is None:
                continue
            if entry[0] in self.outcomes:
                # Already skipped: an upstream member failed before it (dbt skipped it too).
                self._running.pop(member.step_id)
                continue
            self._handle(member)
        return True

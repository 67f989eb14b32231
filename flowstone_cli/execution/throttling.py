"""What the coordinator needs for pools and rate-limited steps, kept out of its main loop.

`PoolGate`: `[pools] openai = 4` lets at most 4 steps of assets with `pool="openai"` run at once
on the machine, across every run of the project. The coordinator takes a slot (a `flock`ed file
under `.flowstone/pools/<pool>/`) when it starts such a step and releases it when the result
arrives; a step whose pool is full stays queued while others go on. The OS releases the locks of
a coordinator that dies, so no slot is ever orphaned.

`RequeueBudget`: a step that raises `RateLimited(retry_after=...)` is put back in the queue after
the delay, without holding a worker and without using an attempt of its retry policy, up to a
bounded number of times and total wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

from flowstone_cli.execution.tasks import StepResult
from flowstone_cli.resources.slots import Slot, SlotGroup

K = TypeVar("K")

POOL_POLL_SECONDS = 0.05
MAX_REQUEUES = 100
MAX_REQUEUE_WAIT = 3600.0
DEFAULT_RETRY_AFTER = 1.0


class PoolGate(Generic[K]):
    """Pool slots of one coordinator, keyed by the step they were taken for.

    Args:
        folder: `.flowstone/pools` of the project.
        sizes: pool name -> how many steps may run at once.
        pool_of: asset name -> its pool (assets without one are absent or None).
    """

    def __init__(self, folder: Path, sizes: Mapping[str, int],
                 pool_of: Mapping[str, str | None]) -> None:
        self._groups = {name: SlotGroup(Path(folder) / name, size)
                        for name, size in sizes.items()}
        self._pool_of = {asset: pool for asset, pool in pool_of.items() if pool}
        self._held: dict[K, Slot] = {}
        self.waiting = False

    @classmethod
    def disabled(cls) -> PoolGate[K]:
        """A gate with no pools: admits every step."""
        return cls(Path("."), {}, {})

    def admit(self, key: K, asset: str) -> bool:
        """Take a slot for `key` if its asset has a pool; False when the pool is full."""
        pool = self._pool_of.get(asset)
        if pool is None or key in self._held:
            return True
        slot = self._groups[pool].try_acquire()
        if slot is None:
            self.waiting = True
            return False
        self._held[key] = slot
        return True

    def release(self, key: K) -> None:
        """Give back `key`'s slot, if it holds one."""
        slot = self._held.pop(key, None)
        if slot is not None:
            slot.release()

    def release_all(self) -> None:
        """Give back every slot (end of the run)."""
        for key in list(self._held):
            self.release(key)


@dataclass
class _Spent:
    times: int = 0
    waited: float = 0.0


class RequeueBudget(Generic[K]):
    """How often, and for how long in all, each step was re-queued for a rate limit."""

    def __init__(self, max_requeues: int = MAX_REQUEUES,
                 max_wait: float = MAX_REQUEUE_WAIT) -> None:
        self.max_requeues = max_requeues
        self.max_wait = max_wait
        self._spent: dict[K, _Spent] = {}

    def next_delay(self, key: K, retry_after: float | None) -> float | None:
        """The delay before re-queueing `key`, or None when its budget is spent."""
        spent = self._spent.setdefault(key, _Spent())
        delay = DEFAULT_RETRY_AFTER if retry_after is None else max(0.0, retry_after)
        if spent.times >= self.max_requeues or spent.waited + delay > self.max_wait:
            return None
        spent.times += 1
        spent.waited += delay
        return delay

    def decide(self, key: K, result: StepResult, *, stopping: bool
               ) -> tuple[float | None, StepResult]:
        """For a result whose error is `RateLimited`: the delay before re-queueing it, or
        (None, the result to record as failed) when the budget is spent or the run stops."""
        error = result.error
        assert error is not None
        delay = None if stopping else self.next_delay(key, error.retry_after)
        if delay is not None:
            return delay, result
        spent = self._spent.get(key, _Spent())
        why = (f"{error.message}: still rate limited after {spent.times} re-queues "
               f"({spent.waited:.1f}s of waiting; at most {self.max_requeues} re-queues and "
               f"{self.max_wait:.0f}s)")
        return None, replace(result, error=replace(error, retryable=False, message=why))

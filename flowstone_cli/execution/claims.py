"""The claims of one run: no two runs compute the same asset partition at the same moment.

Semantics (documented in docs/reliability.md):
- In the session that records the run, the run claims every step it plans to execute unless a
  live run already holds a claim on it; the dead runs found on the way are reaped first. A step
  that another run materialized between this run's planning and that session is reused as soon
  as it is ready, like a step waited for.
- A step claimed by another live run *waits* (event `step_waiting`). When that claim goes away,
  the step either *reuses* the other run's new materialization (recorded `up_to_date` with the
  reason "materialized by run X"), or, if the other run produced nothing new (it failed, was
  canceled or crashed), claims the step and runs it itself.
- A claim is released in the same write session that records the step's final row, so a waiting
  run never sees a claim gone without the result being visible; the last flush releases the rest.
- A claiming run found dead while others wait on it is reaped on the spot (crashed, abandoned).
- Waiting is bounded. A holder whose heartbeat is older than `STALE_AFTER_SECONDS` is not
  computing anything, even when its process still exists on this host (stopped with SIGSTOP,
  hung in the kernel): the waiting step gives up (failed, `claim_timeout`), and so does a step
  that waited longer than the run's `claim_timeout`. Its claim is left alone: the holder may
  still wake up.

Every read and write here happens inside a session the recorder already opens (start and
flushes), so claims add statements, not sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import time

from flowstone_cli.execution.liveness import STALE_AFTER_SECONDS, find_dead, this_host
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.store import StoreWriter
from flowstone_cli.planning.plan import StepKey


class CancelRequested(KeyboardInterrupt):
    """`runs cancel` asked this run to stop (found in a flush).

    A KeyboardInterrupt so that the coordinator cancels exactly as it does for Ctrl-C.
    """


@dataclass(frozen=True)
class ClaimUpdate:
    """What a flush learned about the steps this run waits for.

    Attributes:
        reused: steps another run materialized meanwhile -> that materialization.
        taken: steps whose claim this run now holds and must run itself.
        cancel_requested: `runs cancel` asked this run to stop.
        given_up: steps that stopped waiting -> why (the holder is unresponsive, or the
            run's claim timeout passed).
    """

    reused: dict[StepKey, StepRecord] = field(default_factory=dict)
    taken: list[StepKey] = field(default_factory=list)
    cancel_requested: bool = False
    given_up: dict[StepKey, str] = field(default_factory=dict)


class ClaimBook:
    """Tracks which of a run's steps it holds, which it waits for, and what to release.

    Args:
        run_id: the run.
        to_run: the steps the run plans to execute.
        process_token: the coordinator process's token (see `liveness.process_token`).
        known: step -> the materialization id the plan was made with (None: none), to tell a
            new materialization by another run from the one the plan saw.
        claim_timeout: seconds a step may wait for another run's claim (None: as long as the
            holder is alive and its heartbeat fresh).
        stale_after: heartbeat age in seconds after which a holder is unresponsive.
    """

    def __init__(self, run_id: str, to_run: Sequence[StepKey], *,
                 process_token: str | None, known: Callable[[StepKey], str | None],
                 claim_timeout: float | None = None,
                 stale_after: float = STALE_AFTER_SECONDS) -> None:
        self.run_id = run_id
        self.claim_timeout = claim_timeout
        self.stale_after = stale_after
        self._blocked_since: dict[StepKey, float] = {}
        self.process_token = process_token
        self.known = known
        self._to_run = [StepKey(*k) for k in to_run]
        self.settled: dict[StepKey, StepRecord] = {}  # materialized by another run meanwhile
        self._held: set[StepKey] = set()
        self._foreign: dict[StepKey, str] = {}  # step -> run holding its claim
        self.blocked: set[StepKey] = set()  # ready steps waiting on a foreign claim

    # -- queries the coordinator makes ------------------------------------------------------
    def waits_on(self, key: StepKey) -> str | None:
        """The run whose claim `key` must wait for, or None if this run holds it."""
        return self._foreign.get(key)

    def block(self, key: StepKey) -> None:
        """Park a ready step until the foreign claim on it goes away."""
        self.blocked.add(key)
        self._blocked_since.setdefault(key, time.monotonic())

    # -- inside write sessions ---------------------------------------------------------------
    def begin(self, writer: StoreWriter) -> None:
        """In the run's first session: reap dead runs, record the plan, claim free steps."""
        now = datetime.now(timezone.utc)
        dead = find_dead(writer.running_runs(), now=now)
        if dead:
            writer.reap_runs(dead.reasons, now)
        keys = [(k.asset, k.partition) for k in self._to_run]
        writer.record_ownership(self.run_id, self.process_token, keys)
        existing = writer.claims_on(keys)
        self._foreign = {StepKey(*k): c.run_id for k, c in existing.items()
                         if c.run_id != self.run_id}
        free = [k for k in self._to_run if k not in self._foreign]
        latest = writer.latest_of_keys([(k.asset, k.partition) for k in free])
        for key in free:
            record = latest.get((key.asset, key.partition))
            if record is not None and record.step_id != self.known(key):
                self.settled[key] = record
        free = [k for k in free if k not in self.settled]
        writer.claim(self.run_id, [(k.asset, k.partition) for k in free], now)
        self._held = set(free)

    def sync(self, writer: StoreWriter, finished: Container[StepKey], *,
             final: bool = False) -> ClaimUpdate:
        """In a flush session: release finished steps, look at the steps waited for.

        Args:
            writer: the flush's write session (its step rows are already written).
            finished: the steps that reached a final outcome (held ones are released).
            final: the run is over: release everything, look at nothing else.
        """
        if final:
            writer.release_claims(self.run_id)
            self._held.clear()
            return ClaimUpdate()
        done = [k for k in self._held if k in finished]
        if done:
            writer.release_claims(self.run_id, [(k.asset, k.partition) for k in done])
            self._held.difference_update(done)
        cancel = writer.cancel_requested(self.run_id)
        if not self.blocked:
            return ClaimUpdate(cancel_requested=cancel)
        return self._resolve_blocked(writer, cancel)

    def _resolve_blocked(self, writer: StoreWriter, cancel: bool) -> ClaimUpdate:
        now = datetime.now(timezone.utc)
        keys = [(k.asset, k.partition) for k in self.blocked]
        claims = writer.claims_on(keys)
        holders = {c.run_id for c in claims.values() if c.run_id != self.run_id}
        if holders:
            running = [r for r in writer.running_runs() if r.run_id in holders]
            gone = {r for r in holders if r not in {run.run_id for run in running}}
            dead = find_dead(running, host=this_host(), now=now)
            if dead:
                writer.reap_runs(dead.reasons, now)  # drops their claims too
            for run_id in sorted(gone):
                # Its run is no longer running yet the claim stayed: nobody is computing it.
                writer.release_claims(run_id)
            if dead or gone:
                claims = writer.claims_on(keys)
        freed = [StepKey(*k) for k in keys
                 if k not in claims or claims[k].run_id == self.run_id]
        given_up = self._give_up(writer, claims, set(freed), now)
        if not freed:
            return ClaimUpdate(cancel_requested=cancel, given_up=given_up)
        latest = writer.latest_of_keys([(k.asset, k.partition) for k in freed])
        reused: dict[StepKey, StepRecord] = {}
        taken: list[StepKey] = []
        for key in freed:
            record = latest.get((key.asset, key.partition))
            if record is not None and record.step_id != self.known(key):
                reused[key] = record
            else:
                taken.append(key)
            self.blocked.discard(key)
            self._foreign.pop(key, None)
        writer.claim(self.run_id, [(k.asset, k.partition) for k in taken], now)
        self._held.update(taken)
        return ClaimUpdate(reused=reused, taken=taken, cancel_requested=cancel,
                           given_up=given_up)

    def _give_up(self, writer: StoreWriter, claims: dict, freed: set[StepKey],
                 now: datetime) -> dict[StepKey, str]:
        """Blocked steps that stop waiting: the holder sent no heartbeat for `stale_after`
        seconds (even if its process exists), or the step waited past `claim_timeout`."""
        waiting = {StepKey(*k): c.run_id for k, c in claims.items()
                   if c.run_id != self.run_id and StepKey(*k) not in freed}
        if not waiting:
            return {}
        runs = {r.run_id: r for r in writer.running_runs() if r.run_id in waiting.values()}
        given_up: dict[StepKey, str] = {}
        for key, holder in waiting.items():
            run = runs.get(holder)
            beat = (run.heartbeat_at or run.started_at) if run is not None else None
            age = (now - beat).total_seconds() if beat is not None else 0.0
            waited = time.monotonic() - self._blocked_since.get(key, time.monotonic())
            where = f" (pid {run.pid} on {run.host})" if run is not None and run.pid else ""
            if age > self.stale_after:
                given_up[key] = (f"{key} is claimed by run {holder}{where}, which has sent no "
                                 f"heartbeat for {age:.0f}s; stopped waiting for it")
            elif self.claim_timeout is not None and waited > self.claim_timeout:
                given_up[key] = (f"{key} is claimed by run {holder}{where}; stopped waiting "
                                 f"for it after --claim-timeout {self.claim_timeout:g}s")
        for key in given_up:
            self.blocked.discard(key)
            self._blocked_since.pop(key, None)
        return given_up

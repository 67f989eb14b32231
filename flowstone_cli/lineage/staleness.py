"""Staleness: whether each step of a plan must run, and the reason, from recorded history.

A step is up to date when its asset partition has a successful materialization made by the same
code version from upstream values whose data versions are still the current ones. An upstream
that re-materialized to identical content (same hash) does not make it stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.definitions.run_config import CONFIG_HASH_KEY, default_hash
from flowstone_cli.durations import parse_duration
from flowstone_cli.metadata.records import LineageRecord, StepRecord
from flowstone_cli.metadata.statuses import StepStatus
from flowstone_cli.planning.plan import Action, Plan, PlannedStep, StepKey

Key = tuple[str, str | None]


class StaleReason(str, Enum):
    """Why a step will run (or `UP_TO_DATE` when it will not)."""

    MISSING = "missing"
    LAST_FAILED = "last attempt failed"
    CHECK_FAILED = "failed blocking check"
    CODE_CHANGED = "code changed"
    CONFIG_CHANGED = "config changed"
    UPSTREAM_CHANGED = "upstream changed"
    UPSTREAM_STALE = "upstream stale"
    TOO_OLD = "older than max_age"
    FORCED = "forced"
    UP_TO_DATE = "up to date"
    DONE = "done earlier in this backfill"


_FAILED = {StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.ABANDONED}


def _upstream_changed(step: PlannedStep, materialization: StepRecord,
                      consumed: Sequence[LineageRecord], latest: Mapping[Key, StepRecord]) -> bool:
    read = {(r.upstream_asset, r.upstream_partition): r for r in consumed}
    for key in step.upstream:
        current = latest.get((key.asset, key.partition))
        record = read.get((key.asset, key.partition))
        if current is None or record is None:
            return True
        if current.data_version is not None and record.upstream_data_version is not None:
            if current.data_version != record.upstream_data_version:
                return True
        elif current.step_id != record.upstream_step_id:
            return True
    del materialization
    return False


def staleness(step: PlannedStep, definitions: Definitions, *,
              latest: Mapping[Key, StepRecord], attempts: Mapping[Key, StepRecord],
              consumed: Mapping[str, Sequence[LineageRecord]], stale_upstream: set[StepKey],
              now: datetime, blocked: Mapping[str, str] | None = None,
              config_hashes: Mapping[str, str] | None = None) -> StaleReason:
    """The reason `step` is stale, or `UP_TO_DATE`.

    Args:
        step: the step.
        definitions: current definitions (for code versions and `max_age`).
        latest: (asset, partition) -> latest successful, not wiped materialization.
        attempts: (asset, partition) -> latest finished attempt of any outcome.
        consumed: materialization id -> the lineage it recorded.
        stale_upstream: upstream steps already known to be stale (they will run).
        now: the current time, for `max_age`.
        blocked: materialization id -> failed blocking checks; such a value is not current.
        config_hashes: asset -> hash of this run's validated config (default: the model's
            defaults); a materialization recorded with another `config_hash` is stale.
    """
    key = (step.key.asset, step.key.partition)
    materialization = latest.get(key)
    if materialization is None:
        attempt = attempts.get(key)
        return StaleReason.LAST_FAILED if attempt is not None and attempt.status in _FAILED \
            else StaleReason.MISSING
    attempt = attempts.get(key)
    if (attempt is not None and attempt.status in _FAILED and attempt.ended_at is not None
            and materialization.ended_at is not None
            and attempt.ended_at > materialization.ended_at):
        return StaleReason.LAST_FAILED
    if blocked and materialization.step_id in blocked:
        return StaleReason.CHECK_FAILED
    spec = definitions.assets[step.key.asset]
    if materialization.code_version != spec.code_version:
        return StaleReason.CODE_CHANGED
    model = getattr(spec, "config", None)
    if model is not None:
        wanted = (config_hashes or {}).get(spec.name) or default_hash(model)
        recorded = (materialization.metadata or {}).get(CONFIG_HASH_KEY)
        if wanted is not None and recorded != wanted:
            return StaleReason.CONFIG_CHANGED
    if any(up in stale_upstream for up in step.upstream):
        return StaleReason.UPSTREAM_STALE
    if _upstream_changed(step, materialization, consumed.get(materialization.step_id, ()), latest):
        return StaleReason.UPSTREAM_CHANGED
    if spec.max_age is not None and materialization.ended_at is not None:
        limit: timedelta = parse_duration(spec.max_age, what="max_age")
        if now - materialization.ended_at > limit:
            return StaleReason.TOO_OLD
    return StaleReason.UP_TO_DATE


def decide(plan: Plan, definitions: Definitions, *, latest: Mapping[Key, StepRecord],
           attempts: Mapping[Key, StepRecord], consumed: Mapping[str, Sequence[LineageRecord]],
           now: datetime, force: bool = False, done: set[Key] | None = None,
           blocked: Mapping[str, str] | None = None,
           config_hashes: Mapping[str, str] | None = None) -> Plan:
    """The plan with every step marked run (with its staleness reason) or skip (up to date).

    Steps in `done` (finished earlier by the same backfill) are skipped as `done earlier`.
    `blocked` maps materializations whose blocking checks failed to the failed checks' text.
    """
    decisions: dict[StepKey, tuple[Action, str]] = {}
    stale: set[StepKey] = set()
    done = done or set()
    for step in plan.steps:
        if (step.key.asset, step.key.partition) in done and (
                step.key.asset, step.key.partition) in latest:
            decisions[step.key] = (Action.SKIP, StaleReason.DONE.value)
            continue
        if force:
            reason = StaleReason.FORCED
        else:
            reason = staleness(step, definitions, latest=latest, attempts=attempts,
                               consumed=consumed, stale_upstream=stale, now=now,
                               blocked=blocked, config_hashes=config_hashes)
        if reason is StaleReason.UP_TO_DATE:
            decisions[step.key] = (Action.SKIP, reason.value)
        else:
            stale.add(step.key)
            text = reason.value
            if reason is StaleReason.CHECK_FAILED and blocked:
                text = blocked[latest[(step.key.asset, step.key.partition)].step_id]
            decisions[step.key] = (Action.RUN, text)
    return plan.decide(decisions)


def failed_blocking_checks(definitions: Definitions, latest: Mapping[Key, StepRecord],
                           verdicts: Callable[[list[str]], Sequence[Any]]) -> dict[str, str]:
    """Materialization id -> "failed blocking check X, Y" for current values whose newest
    blocking checks failed. `verdicts` reads check results for materialization ids; it is
    called only when some latest value belongs to an asset with a blocking check."""
    ids = [rec.step_id for (asset, _), rec in latest.items()
           if any(c.blocking for c in definitions.checks_of(asset))]
    if not ids:
        return {}
    failed: dict[str, list[str]] = {}
    for verdict in verdicts(ids):
        if verdict.blocks:
            failed.setdefault(verdict.materialization, []).append(verdict.check_name)
    return {m: f"{StaleReason.CHECK_FAILED.value} {', '.join(names)}"
            for m, names in failed.items()}

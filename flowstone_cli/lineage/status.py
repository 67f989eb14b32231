"""`flowstone status`: which steps of a selection are stale, and why.

The answer is the one `materialize` would act on: the same plan (selection, partitions,
mappings) and the same `decide`, fed with narrow records of only the asset partitions the plan
involves, so a question about a few partitions never loads the whole history.

Without a partition request, a partitioned asset is checked on the partitions that have at least
one recorded attempt; one that was never attempted is listed as not checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.definitions.partitioning import upstream_keys
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.lineage.graph import uses_dynamic_partitions
from flowstone_cli.lineage.staleness import decide, failed_blocking_checks
from flowstone_cli.metadata.records import LineageRecord
from flowstone_cli.planning.partition_selection import PartitionRequest, partitions_for
from flowstone_cli.planning.gates import reason_for, refused
from flowstone_cli.planning.plan import Action, Plan, StepKey, build_plan
from flowstone_cli.planning.selection import Selection

if TYPE_CHECKING:
    from flowstone_cli.metadata.store import StoreReader


@dataclass(frozen=True)
class StaleStep:
    """One step that `materialize` would run.

    Attributes:
        asset, partition: the step.
        reason: the staleness reason (`missing`, `code changed`, `upstream changed`,
            `upstream stale`, `older than max_age`, `last attempt failed`).
        step_id: its current materialization, if any.
        materialized_at: when that materialization ended.
    """

    asset: str
    partition: str | None
    reason: str
    step_id: str | None = None
    materialized_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"asset": self.asset, "partition": self.partition, "reason": self.reason,
                "step_id": self.step_id, "materialized_at":
                    None if self.materialized_at is None else self.materialized_at.isoformat()}


@dataclass(frozen=True)
class StatusReport:
    """The stale steps of a selection.

    Attributes:
        checked: how many steps were checked.
        stale: the stale steps in plan (dependency) order.
        not_checked: partitioned assets skipped because no partition of theirs was ever
            attempted and no partition was asked for.
    """

    checked: int
    stale: tuple[StaleStep, ...]
    not_checked: tuple[str, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        """Stale steps per reason."""
        return dict(Counter(s.reason for s in self.stale).most_common())

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (see docs/lineage.md)."""
        return {"checked": self.checked, "stale_count": len(self.stale),
                "up_to_date": self.checked - len(self.stale), "counts": self.counts,
                "stale": [s.to_dict() for s in self.stale],
                "not_checked": list(self.not_checked)}


def _still_valid(definitions: Definitions, asset: str, keys: list[str],
                 dynamic: Mapping[str, Sequence[str]]) -> list[str]:
    # Keys recorded under an older partitions definition (an earlier start, a removed dynamic
    # key) are no longer partitions of the asset: `materialize` would not consider them either.
    definition = definitions.assets[asset].partitions
    valid = []
    for key in keys:
        try:
            valid.append(definition.validate_key(key, dynamic_keys=dynamic))
        except FlowStoneError:
            continue
    return valid


def _recorded_partitions(definitions: Definitions, chosen: Selection,
                         reader: StoreReader | None, dynamic: Mapping[str, Sequence[str]]
                         ) -> tuple[Selection, dict[str, list[str | None]], tuple[str, ...]]:
    partitioned = [a for a in chosen.assets if definitions.assets[a].partitions is not None]
    found = reader.recorded_partitions(partitioned) if reader and partitioned else {}
    recorded = {a: keys for a, keys in ((a, _still_valid(definitions, a, k, dynamic))
                                        for a, k in found.items()) if keys}
    partitions_of: dict[str, list[str | None]] = {
        a: list(recorded[a]) if a in recorded else [None] for a in chosen.assets
        if a in recorded or definitions.assets[a].partitions is None}
    kept = tuple(a for a in chosen.assets if a in partitions_of)
    skipped = tuple(sorted(a for a in partitioned if a not in recorded))
    return (Selection(assets=kept, reasons={a: chosen.reasons[a] for a in kept}), partitions_of,
            skipped)


class _LazyLineage(Mapping[str, Sequence[LineageRecord]]):
    """The lineage rows of the plan's materializations, read in one query on first use.

    `decide` only looks at what a materialization read when nothing else already made it stale,
    so after a code change upstream (every step stale) the lineage is never read at all.
    """

    def __init__(self, reader: StoreReader, step_ids: Sequence[str]) -> None:
        self._reader = reader
        self._ids = step_ids
        self._rows: dict[str, list[LineageRecord]] | None = None

    def _load(self) -> dict[str, list[LineageRecord]]:
        if self._rows is None:
            rows: dict[str, list[LineageRecord]] = {sid: [] for sid in self._ids}
            for row in self._reader.lineage_of(self._ids):
                rows[row.step_id].append(row)
            self._rows = rows
        return self._rows

    def __getitem__(self, step_id: str) -> Sequence[LineageRecord]:
        return self._load()[step_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def stale_steps(definitions: Definitions, chosen: Selection, request: PartitionRequest,
                reader: StoreReader | None, *, now: datetime) -> StatusReport:
    """The steps of `chosen` that `materialize` would run, each with its reason.

    Args:
        definitions: the project's definitions.
        chosen: the selected assets.
        request: the partitions asked for; empty for "every recorded partition".
        reader: an open session on the store, None when the store does not exist yet.
        now: the current time (partitions up to now, `max_age`).

    Raises:
        PartitionError: the request does not fit the selected assets.
    """
    dynamic: Mapping[str, Sequence[str]] = (
        reader.dynamic_keys() if reader and uses_dynamic_partitions(definitions) else {})
    skipped: tuple[str, ...] = ()
    if request.empty:
        chosen, partitions_of, skipped = _recorded_partitions(definitions, chosen, reader,
                                                              dynamic)
    else:
        partitions_of = partitions_for(definitions, chosen, request, now=now,
                                       dynamic_keys=dynamic)

    def mapper(asset: str, partition: str | None, up: str) -> list[str | None]:
        return upstream_keys(definitions.assets[asset], partition, definitions.assets[up],
                             now=now, dynamic_keys=dynamic)

    plan = build_plan(definitions, chosen, partitions_of=partitions_of, upstream_keys=mapper)
    keys = {(k.asset, k.partition) for s in plan.steps for k in (s.key, *s.upstream)}
    latest, attempts = {}, {}
    consumed: Mapping[str, Sequence[LineageRecord]] = {}
    if reader is not None and plan.steps:
        found = reader.latest_for_keys(keys)
        latest, attempts = found.materializations, found.attempts
        own = [latest[k].step_id for k in ((s.key.asset, s.key.partition) for s in plan.steps)
               if k in latest]
        consumed = _LazyLineage(reader, own)
    blocked = failed_blocking_checks(definitions, latest, reader.check_verdicts) \
        if reader is not None else {}
    decided = decide(plan, definitions, latest=latest, attempts=attempts, consumed=consumed,
                     now=now, blocked=blocked)
    held = _held_checkpoints(definitions, decided, latest, reader)
    stale = []
    for step in decided.steps:
        if step.action is not Action.RUN:
            continue
        current = latest.get((step.key.asset, step.key.partition))
        stale.append(StaleStep(step.key.asset, step.key.partition,
                               held.get(step.key, step.reason),
                               current.step_id if current else None,
                               current.ended_at if current else None))
    return StatusReport(len(decided.steps), tuple(stale), skipped)


def _held_checkpoints(definitions: Definitions, plan: Plan, latest: Mapping,
                      reader: StoreReader | None) -> dict[StepKey, str]:
    """Checkpoint steps missing because their newest request waits or was rejected: the
    request's state is the reason, not "missing"."""
    keys = [(s.key.asset, s.key.partition) for s in plan.steps
            if s.action is Action.RUN and s.reason == "missing"
            and isinstance(definitions.assets[s.key.asset], CheckpointSpec)
            and (s.key.asset, s.key.partition) not in latest]
    if not keys or reader is None:
        return {}
    requests = reader.latest_checkpoint_requests(keys)
    return {StepKey(*key): reason_for(request).removeprefix("checkpoint ")
            for key, request in requests.items() if refused(request)}

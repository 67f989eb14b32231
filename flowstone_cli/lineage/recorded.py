"""Recorded lineage: walking the `lineage` table from one asset partition, up or down.

A walk never asks the store one step at a time. It first loads, in two queries, every
materialization of the partitions the definitions say are involved and the lineage rows of
those materializations, then walks them in memory. Rows that lead outside what was loaded (the
definitions changed since they were recorded) are fetched in further batches, one per level.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from flowstone_cli.lineage.entries import (
    DownstreamAnswer,
    LineageEntry,
    Materialization,
    UpstreamAnswer,
    ordered,
)
from flowstone_cli.lineage.graph import Reach
from flowstone_cli.metadata.records import LineageRecord, StepRecord
from flowstone_cli.planning.plan import StepKey

if TYPE_CHECKING:
    from flowstone_cli.metadata.store import StoreReader

_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _order(record: StepRecord) -> tuple[datetime, datetime, int, str]:
    # The same order the store uses for "latest": end time, start time, attempt, id.
    return (record.ended_at or _NEVER, record.started_at or _NEVER, record.attempt,
            record.step_id)


class LineageIndex:
    """Materializations and lineage rows loaded from the store so far, for in-memory walks."""

    def __init__(self, reader: StoreReader | None) -> None:
        self.reader = reader
        self.steps: dict[str, StepRecord] = {}
        self.by_key: dict[StepKey, list[StepRecord]] = {}
        self.inputs: dict[str, list[LineageRecord]] = {}
        self.consumers: dict[str, list[LineageRecord]] = {}
        self._keys: set[StepKey] = set()
        self._rows: set[tuple[str, str]] = set()
        self._inputs_loaded: set[str] = set()

    def load(self, keys: Iterable[StepKey]) -> None:
        """Load every materialization of `keys` and the lineage rows of each (once per key)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._keys]
        self._keys.update(wanted)
        if self.reader is None or not wanted:
            return
        records = self.reader.materializations_of_keys(wanted)
        self.add_steps(records)
        ids = [r.step_id for r in records]
        self.add_rows(self.reader.lineage_of(ids))
        self._inputs_loaded.update(ids)

    def add_steps(self, records: Iterable[StepRecord]) -> None:
        """Index step records (by id and by key)."""
        for record in records:
            if record.step_id not in self.steps:
                self.steps[record.step_id] = record
                self.by_key.setdefault(StepKey(record.asset, record.partition), []).append(record)

    def add_rows(self, rows: Iterable[LineageRecord]) -> list[LineageRecord]:
        """Index lineage rows both ways; returns the ones not seen before."""
        new = []
        for row in rows:
            if (row.step_id, row.upstream_step_id) in self._rows:
                continue
            self._rows.add((row.step_id, row.upstream_step_id))
            self.inputs.setdefault(row.step_id, []).append(row)
            self.consumers.setdefault(row.upstream_step_id, []).append(row)
            new.append(row)
        return new

    def ensure_inputs(self, step_ids: Iterable[str], keys: dict[str, StepKey]) -> None:
        """Make sure the lineage rows of these steps are loaded (their keys in `keys`)."""
        missing = [sid for sid in step_ids if sid not in self._inputs_loaded]
        if missing:
            self.load(keys[sid] for sid in missing if sid in keys)
            self._inputs_loaded.update(missing)

    def latest(self, key: StepKey, *, include_wiped: bool = False) -> StepRecord | None:
        """The latest loaded materialization of `key` (not wiped unless `include_wiped`)."""
        records = [r for r in self.by_key.get(key, ()) if include_wiped or not r.wiped]
        return max(records, key=_order) if records else None

    def materialization(self, record: StepRecord) -> Materialization:
        """`record` as a materialization, `current` when it is its partition's latest."""
        latest = self.latest(StepKey(record.asset, record.partition))
        return Materialization.of(record, current=latest is not None
                                  and latest.step_id == record.step_id)

    def current(self, key: StepKey) -> Materialization | None:
        """The current materialization of `key`, if it has one."""
        latest = self.latest(key)
        return None if latest is None else Materialization.of(latest, current=True)

    def find_consumers(self, step_ids: Iterable[str]) -> bool:
        """Ask the store for consumers of these steps that were not loaded; True if any."""
        if self.reader is None:
            return False
        new = self.add_rows(self.reader.consumers_of_ids(list(step_ids)))
        unknown = {row.step_id for row in new if row.step_id not in self.steps}
        if unknown:
            self.add_steps(self.reader.steps_by_id(unknown).values())
        return bool(new)


def _entry(index: LineageIndex, step_id: str, key: StepKey, depth: int, via: list[StepKey],
           row: LineageRecord | None) -> LineageEntry:
    record = index.steps.get(step_id)
    if record is not None:
        materialization = index.materialization(record)
    else:  # a row whose step is gone from `steps`: keep what the row itself says
        materialization = Materialization(step_id, None, None, row.upstream_data_version
                                          if row else None, None, False, False)
    return LineageEntry(key, depth, True, materialization, tuple(via))


def predicted_entries(index: LineageIndex, reach: Reach) -> tuple[LineageEntry, ...]:
    """Entries for partitions the definitions reach, each with its current materialization."""
    return ordered(LineageEntry(key, depth, False, index.current(key), tuple(reach.via[key]))
                   for key, depth in reach.depth.items())


def head_of(index: LineageIndex, key: StepKey) -> StepRecord | None:
    """The materialization a lineage question about `key` starts from: the latest one, else
    (all of them wiped) the latest wiped one."""
    return index.latest(key) or index.latest(key, include_wiped=True)


def upstream(index: LineageIndex, start: StepKey, reach: Reach, *,
             max_depth: int | None) -> UpstreamAnswer:
    """What the latest materialization of `start` read, transitively, from recorded lineage.

    `reach` is the definitions' prediction; its partitions are loaded up front. When `start`
    was never materialized, the prediction itself is the answer (`recorded` False).
    """
    index.load([start, *reach.depth])
    head = head_of(index, start)
    if head is None:
        return UpstreamAnswer(start, None, False, predicted_entries(index, reach))
    keys: dict[str, StepKey] = {head.step_id: start}
    depth: dict[str, int] = {head.step_id: 0}
    via: dict[str, list[StepKey]] = {}
    rows: dict[str, LineageRecord] = {}
    frontier = [head.step_id]
    level = 0
    while frontier and (max_depth is None or level < max_depth):
        level += 1
        index.ensure_inputs(frontier, keys)
        following: list[str] = []
        for step_id in frontier:
            for row in index.inputs.get(step_id, ()):
                up = row.upstream_step_id
                keys.setdefault(up, StepKey(row.upstream_asset, row.upstream_partition))
                if up not in depth:
                    depth[up], via[up], rows[up] = level, [keys[step_id]], row
                    following.append(up)
                elif depth[up] == level and keys[step_id] not in via[up]:
                    via[up].append(keys[step_id])
        frontier = following
    entries = (_entry(index, sid, keys[sid], d, via[sid], rows[sid])
               for sid, d in depth.items() if d > 0)
    return UpstreamAnswer(start, index.materialization(head), True, ordered(entries))


def consumers_walk(index: LineageIndex, sources: list[str], *, max_depth: int | None,
                   complete: bool) -> tuple[dict[str, int], dict[str, list[StepKey]]]:
    """Materializations that read any of `sources`, transitively: step id -> depth, and the
    keys that lead to each. With `complete`, the store is asked for consumers outside what was
    loaded until none are left."""
    while True:
        depth: dict[str, int] = {sid: 0 for sid in sources}
        via: dict[str, list[StepKey]] = {}
        frontier = list(sources)
        level = 0
        while frontier and (max_depth is None or level < max_depth):
            level += 1
            following: list[str] = []
            for step_id in frontier:
                record = index.steps.get(step_id)
                here = StepKey(record.asset, record.partition) if record else None
                for row in index.consumers.get(step_id, ()):
                    consumer = row.step_id
                    if consumer not in depth:
                        depth[consumer], via[consumer] = level, [here] if here else []
                        following.append(consumer)
                    elif depth[consumer] == level and here and here not in via[consumer]:
                        via[consumer].append(here)
            frontier = following
        searched = [sid for sid, d in depth.items() if max_depth is None or d < max_depth]
        if not complete or not index.find_consumers(searched):
            return depth, via


def downstream(index: LineageIndex, start: StepKey, reach: Reach, *,
               max_depth: int | None) -> DownstreamAnswer:
    """Recorded consumers of every materialization of `start`, and the definitions' view."""
    index.load([start, *reach.depth])
    sources = [r.step_id for r in index.by_key.get(start, ())]
    depth, via = consumers_walk(index, sources, max_depth=max_depth, complete=True)
    recorded = []
    for step_id, d in depth.items():
        record = index.steps.get(step_id)
        if d == 0 or record is None:
            continue
        recorded.append(LineageEntry(StepKey(record.asset, record.partition), d, True,
                                     index.materialization(record), tuple(via[step_id])))
    head = head_of(index, start)
    return DownstreamAnswer(start, index.materialization(head) if head else None,
                            ordered(recorded), predicted_entries(index, reach))

"""Lineage as the definitions predict it: which asset partitions a partition reads or feeds.

Walks the asset graph one partition at a time through each edge's partition mapping
(`upstream_keys` / `downstream_keys`), so a daily partition leads only to the partitions that
really read it (or that it reads), not to every partition of every connected asset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.definitions.partitioning import downstream_keys, upstream_keys
from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import DynamicPartitions, MultiPartitions
from flowstone_cli.planning.plan import StepKey

DynamicKeys = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Reach:
    """Asset partitions reached from a start key, each with its distance and neighbours.

    Attributes:
        depth: key -> fewest edges from the start (1 for a direct neighbour).
        via: key -> the keys one step closer to the start that lead to it, in walk order.
    """

    depth: dict[StepKey, int]
    via: dict[StepKey, list[StepKey]]


def uses_dynamic_partitions(definitions: Definitions) -> bool:
    """Whether any asset has dynamic partitions (alone or as a dimension), i.e. whether the
    registered keys must be read from the store before keys can be checked or mapped."""
    for spec in definitions.assets.values():
        definition = spec.partitions
        parts = ([d for _, d in definition.dimensions] if isinstance(definition, MultiPartitions)
                 else [definition])
        if any(isinstance(d, DynamicPartitions) for d in parts):
            return True
    return False


def check_partition(definitions: Definitions, asset: str, partition: str | None, *,
                    dynamic_keys: DynamicKeys | None = None) -> StepKey:
    """The key for `asset` and `partition`, checked against the asset's partitions definition.

    Raises:
        NotFoundError: no such asset.
        PartitionError: a partitioned asset without a partition, an unpartitioned one with one,
            or a key that is not one of the asset's partitions.
    """
    spec = definitions.get(asset)
    if spec.partitions is None:
        if partition is not None:
            raise PartitionError(f"asset `{asset}` is not partitioned; --partition does not "
                                 "apply", hint=f"Run it without --partition: `{asset}`.")
        return StepKey(asset, None)
    if partition is None:
        raise PartitionError(f"asset `{asset}` is partitioned ({spec.partitions.describe()}); "
                             "say which partition", hint="Add --partition KEY.")
    key = spec.partitions.validate_key(partition, dynamic_keys=dynamic_keys or {})
    return StepKey(asset, key)


def _walk(start: StepKey, neighbours: Callable[[StepKey], list[StepKey]],
          max_depth: int | None) -> Reach:
    depth: dict[StepKey, int] = {}
    via: dict[StepKey, list[StepKey]] = {}
    frontier = [start]
    level = 0
    while frontier and (max_depth is None or level < max_depth):
        level += 1
        following: list[StepKey] = []
        for key in frontier:
            for other in neighbours(key):
                if other == start:
                    continue
                if other not in depth:
                    depth[other] = level
                    via[other] = [key]
                    following.append(other)
                elif depth[other] == level and key not in via[other]:
                    via[other].append(key)
        frontier = following
    return Reach(depth, via)


def predicted_upstream(definitions: Definitions, start: StepKey, *, now: datetime,
                       dynamic_keys: DynamicKeys | None = None,
                       max_depth: int | None = None) -> Reach:
    """Every asset partition `start` reads, directly or transitively, by the definitions."""
    specs = definitions.assets
    dynamic = dynamic_keys or {}

    def neighbours(key: StepKey) -> list[StepKey]:
        spec = specs.get(key.asset)
        if spec is None:
            return []
        return [StepKey(up, p) for up in spec.upstream if up in specs
                for p in upstream_keys(spec, key.partition, specs[up], now=now,
                                       dynamic_keys=dynamic)]

    return _walk(start, neighbours, max_depth)


def predicted_downstream(definitions: Definitions, start: StepKey, *, now: datetime,
                         dynamic_keys: DynamicKeys | None = None,
                         max_depth: int | None = None) -> Reach:
    """Every asset partition that reads `start`, directly or transitively, by the definitions."""
    specs = definitions.assets
    dag = definitions.dag
    dynamic = dynamic_keys or {}

    def neighbours(key: StepKey) -> list[StepKey]:
        spec = specs.get(key.asset)
        if spec is None:
            return []
        return [StepKey(down, p) for down in dag.downstream_of(key.asset)
                for p in downstream_keys(spec, key.partition, specs[down], now=now,
                                         dynamic_keys=dynamic)]

    return _walk(start, neighbours, max_depth)

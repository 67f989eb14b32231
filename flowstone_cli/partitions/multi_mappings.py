"""Mappings that involve multi-partitioned assets: per-dimension, and one dimension to a single.

See `flowstone_cli.partitions.mappings` for the mapping protocol these implement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions.definitions import (
    DynamicKeys,
    PartitionsDefinition,
    check_identifier,
    show_key,
)
from flowstone_cli.partitions.mappings import (
    Definition,
    IdentityMapping,
    Keys,
    PartitionMapping,
    describe,
)
from flowstone_cli.partitions.multi import MultiPartitions

_IDENTITY = IdentityMapping()
_PLAN_LIMIT = 256
# One dimension of a multi-to-multi mapping: name, index in the source key, the mapping's
# upstream_keys/downstream_keys (None for identity), source and target dimension definitions.
_Step = tuple[str, int, Callable[..., Keys] | None, PartitionsDefinition, PartitionsDefinition]


@dataclass(frozen=True, init=False, repr=False)
class MultiPartitionMapping(PartitionMapping):
    """Multi to multi with the same dimension names, one mapping per dimension.

    Dimensions not named use `IdentityMapping`. A downstream key reads the product of what each
    dimension's mapping reads.

    Args:
        **dimension_mappings: dimension name -> mapping for that dimension.

    Example:
        `MultiPartitionMapping(date=TimeWindowMapping(-1, -1))`: each tenant's day reads the
        same tenant's previous day.
    """

    dimension_mappings: tuple[tuple[str, PartitionMapping], ...]

    def __init__(self, **dimension_mappings: PartitionMapping) -> None:
        for name, mapping in dimension_mappings.items():
            check_identifier(name, what="MultiPartitionMapping dimension name")
            if not isinstance(mapping, PartitionMapping):
                raise PartitionError(f"MultiPartitionMapping: the mapping for dimension {name!r} "
                                     f"is {show_key(mapping)}, not a partition mapping",
                                     hint="Give e.g. date=TimeWindowMapping(-1, -1).")
        # Sorted, so that equal mappings compare equal whatever the keyword order.
        object.__setattr__(self, "dimension_mappings", tuple(sorted(dimension_mappings.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={mapping!r}" for name, mapping in self.dimension_mappings)
        return f"MultiPartitionMapping({inner})"

    def mapping_for(self, dimension: str) -> PartitionMapping:
        """The mapping of `dimension` (identity when not given)."""
        for name, mapping in self.dimension_mappings:
            if name == dimension:
                return mapping
        return _IDENTITY

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        return self._map(downstream_key, downstream, upstream, upward=True,
                         dynamic_keys=dynamic_keys, now=now)

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        return self._map(upstream_key, upstream, downstream, upward=False,
                         dynamic_keys=dynamic_keys, now=now)

    def _map(self, key: str | None, source: Definition, target: Definition, *, upward: bool,
             dynamic_keys: DynamicKeys | None, now: datetime | None) -> Keys:
        if not isinstance(source, MultiPartitions) or not isinstance(target, MultiPartitions) \
                or key is None:
            downstream, upstream = (source, target) if upward else (target, source)
            raise PartitionError(self.validate(downstream, upstream) or
                                 "MultiPartitionMapping needs a partition key",
                                 hint="Fix the asset's partition_mappings.")
        values = source.key_values(key)
        columns: list[list[str]] = []
        for name, index, method, source_dim, target_dim in self._plan(source, target, upward):
            if method is None:  # identity between equal dimensions: the value is already valid
                columns.append([f"{name}={values[index]}"])
                continue
            found = method(values[index], source_dim, target_dim, dynamic_keys, now)
            columns.append([f"{name}={value}" for value in found if value is not None])
        return [",".join(parts) for parts in product(*columns)]

    def _plan(self, source: MultiPartitions, target: MultiPartitions,
              upward: bool) -> list[_Step]:
        """Per target dimension: its name, its index in source keys, the method to call (None
        for identity) and both dimension definitions. Worked out once per pair of definitions,
        not once per key."""
        plans: dict[tuple[int, int, bool], tuple[object, object, list[_Step]]] = \
            self.__dict__.setdefault("_plans", {})  # a cache; frozen-ness is not at stake
        cached = plans.get((id(source), id(target), upward))
        if cached is not None and cached[0] is source and cached[1] is target:
            return cached[2]
        steps: list[_Step] = []
        for name in target.dimension_names:
            mapping = self.mapping_for(name)
            source_dim, target_dim = source.dimension(name), target.dimension(name)
            same = isinstance(mapping, IdentityMapping) and source_dim == target_dim
            method = None if same else (_upward(mapping) if upward else _downward(mapping))
            steps.append((name, source.dimension_names.index(name), method, source_dim,
                          target_dim))
        if len(plans) >= _PLAN_LIMIT:
            plans.clear()
        plans[(id(source), id(target), upward)] = (source, target, steps)
        return steps

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        if not isinstance(downstream, MultiPartitions) or not isinstance(upstream,
                                                                         MultiPartitions):
            return (f"MultiPartitionMapping needs multi partitions on both sides; downstream is "
                    f"{describe(downstream)}, upstream is {describe(upstream)}")
        names = set(downstream.dimension_names)
        if names != set(upstream.dimension_names):
            return (f"MultiPartitionMapping needs the same dimensions on both sides; downstream "
                    f"has {', '.join(downstream.dimension_names)}, upstream has "
                    f"{', '.join(upstream.dimension_names)}")
        unknown = [name for name, _ in self.dimension_mappings if name not in names]
        if unknown:
            return (f"MultiPartitionMapping maps dimension {', '.join(unknown)}, which the "
                    f"assets do not have (dimensions: {', '.join(downstream.dimension_names)})")
        for name in downstream.dimension_names:
            problem = self.mapping_for(name).validate(downstream.dimension(name),
                                                      upstream.dimension(name))
            if problem:
                return f"dimension {name!r}: {problem}"
        return None

    def preserves_keys(self, downstream: Definition, upstream: Definition) -> bool:
        return (isinstance(downstream, MultiPartitions) and isinstance(upstream, MultiPartitions)
                and all(self.mapping_for(name).preserves_keys(downstream.dimension(name),
                                                              upstream.dimension(name))
                        for name in upstream.dimension_names))

    def crosses_dimension(self, downstream: Definition, upstream: Definition,
                          dimension: str) -> bool:
        if not isinstance(upstream, MultiPartitions) or dimension not in upstream.dimension_names:
            return False
        if not isinstance(downstream, MultiPartitions) or dimension not in \
                downstream.dimension_names:
            return True
        return not self.mapping_for(dimension).preserves_keys(downstream.dimension(dimension),
                                                              upstream.dimension(dimension))


@dataclass(frozen=True)
class DimensionMapping(PartitionMapping):
    """Links a single-dimension asset to one dimension of a multi-partitioned asset.

    Single downstream, multi upstream: the downstream key maps through `mapping` onto
    `dimension` of the upstream, and every key of the other dimensions is read (a daily report
    reading date D of a tenant x date asset for every tenant). Multi downstream, single
    upstream: the downstream key's `dimension` part maps through `mapping` onto the upstream
    (a tenant x date asset reading a daily asset).

    Args:
        dimension: the dimension of the multi-partitioned side (default `date`).
        mapping: how the single side's keys relate to that dimension (default identity).
    """

    dimension: str = "date"
    mapping: PartitionMapping = field(default_factory=IdentityMapping)

    def __post_init__(self) -> None:
        check_identifier(self.dimension, what="DimensionMapping dimension")
        if not isinstance(self.mapping, PartitionMapping):
            raise PartitionError(f"DimensionMapping: mapping {show_key(self.mapping)} is not a "
                                 "partition mapping",
                                 hint="Give e.g. mapping=TimeWindowMapping(-1, -1).")

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        multi, single, fan_in = self._sides(downstream, upstream)
        if fan_in:  # one single key reads a slice of the multi upstream
            inner = self.mapping.upstream_keys(
                downstream_key, downstream=single, upstream=multi.dimension(self.dimension),
                dynamic_keys=dynamic_keys, now=now)
            return multi.keys_matching({self.dimension: [k for k in inner if k is not None]},
                                       now=now, dynamic_keys=dynamic_keys)
        part = multi.key_dict(str(downstream_key), dynamic_keys=dynamic_keys)[self.dimension]
        return self.mapping.upstream_keys(part, downstream=multi.dimension(self.dimension),
                                          upstream=single, dynamic_keys=dynamic_keys, now=now)

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        multi, single, fan_in = self._sides(downstream, upstream)
        if fan_in:
            part = multi.key_dict(str(upstream_key), dynamic_keys=dynamic_keys)[self.dimension]
            return self.mapping.downstream_keys(part, upstream=multi.dimension(self.dimension),
                                                downstream=single, dynamic_keys=dynamic_keys,
                                                now=now)
        inner = self.mapping.downstream_keys(upstream_key, upstream=single,
                                             downstream=multi.dimension(self.dimension),
                                             dynamic_keys=dynamic_keys, now=now)
        return multi.keys_matching({self.dimension: [k for k in inner if k is not None]},
                                   now=now, dynamic_keys=dynamic_keys)

    def _sides(self, downstream: Definition,
               upstream: Definition) -> tuple[MultiPartitions, PartitionsDefinition, bool]:
        """(multi side, single side, whether the multi side is upstream), or a PartitionError."""
        sides = _arrangement(downstream, upstream)
        problem = self.validate(downstream, upstream)
        if sides is None or problem:
            raise PartitionError(problem or "DimensionMapping does not fit these assets",
                                 hint="Fix the asset's partition_mappings.")
        return sides

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        sides = _arrangement(downstream, upstream)
        if sides is None:
            return (f"DimensionMapping links a single-dimension asset and one dimension of a "
                    f"multi-partitioned asset; downstream is {describe(downstream)}, upstream "
                    f"is {describe(upstream)}")
        multi, single, fan_in = sides
        if self.dimension not in multi.dimension_names:
            side = "upstream" if fan_in else "downstream"
            return (f"DimensionMapping: the {side} has no dimension {self.dimension!r} "
                    f"(dimensions: {', '.join(multi.dimension_names)})")
        part = multi.dimension(self.dimension)
        problem = (self.mapping.validate(single, part) if fan_in
                   else self.mapping.validate(part, single))
        return f"DimensionMapping on {self.dimension!r}: {problem}" if problem else None

    def crosses_dimension(self, downstream: Definition, upstream: Definition,
                          dimension: str) -> bool:
        if isinstance(upstream, MultiPartitions):
            if dimension not in upstream.dimension_names:
                return False
            if dimension != self.dimension:
                return True  # every value of the other dimensions is read
            return not self.mapping.preserves_keys(downstream, upstream.dimension(dimension))
        if dimension == self.dimension and isinstance(downstream, MultiPartitions) and \
                dimension in downstream.dimension_names:
            return not self.mapping.preserves_keys(downstream.dimension(dimension), upstream)
        return False  # the upstream has no such dimension: shared data, not another tenant's


def _upward(mapping: PartitionMapping) -> Callable[..., Keys]:
    """`mapping.upstream_keys` as `(key, source, target, dynamic_keys, now)`."""
    def call(key: str | None, source: Definition, target: Definition,
             dynamic_keys: DynamicKeys | None, now: datetime | None) -> Keys:
        return mapping.upstream_keys(key, downstream=source, upstream=target,
                                     dynamic_keys=dynamic_keys, now=now)
    return call


def _downward(mapping: PartitionMapping) -> Callable[..., Keys]:
    """`mapping.downstream_keys` as `(key, source, target, dynamic_keys, now)`."""
    def call(key: str | None, source: Definition, target: Definition,
             dynamic_keys: DynamicKeys | None, now: datetime | None) -> Keys:
        return mapping.downstream_keys(key, upstream=source, downstream=target,
                                       dynamic_keys=dynamic_keys, now=now)
    return call


def _arrangement(downstream: Definition, upstream: Definition
                 ) -> tuple[MultiPartitions, PartitionsDefinition, bool] | None:
    """(multi side, single side, whether the multi side is upstream) when exactly one side is
    multi-partitioned and the other partitioned; None otherwise."""
    if isinstance(upstream, MultiPartitions) and downstream is not None and \
            not isinstance(downstream, MultiPartitions):
        return upstream, downstream, True
    if isinstance(downstream, MultiPartitions) and upstream is not None and \
            not isinstance(upstream, MultiPartitions):
        return downstream, upstream, False
    return None

"""How the partitions of connected assets relate: mappings, keyed inputs, validation at load.

For every dependency edge the mapping is the one the asset declared in `partition_mappings=`,
else the default for the two partition definitions (`flowstone_cli.partitions.default_mapping`).
An edge with neither is a load-time error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.errors import Problem
from flowstone_cli.partitions import (
    DailyPartitions,
    DimensionMapping,
    IdentityMapping,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionMapping,
    PartitionsDefinition,
    TimeWindowMapping,
    TimeWindowPartitions,
    UnpartitionedMapping,
    WeeklyPartitions,
    crosses_dimension,
    default_mapping,
)

DynamicKeys = Mapping[str, Sequence[str]]

_GRAIN = {HourlyPartitions: 1, DailyPartitions: 2, WeeklyPartitions: 3, MonthlyPartitions: 4}


def mapping_for(spec: AssetSpec, upstream: AssetSpec) -> PartitionMapping | None:
    """The mapping from `spec`'s partitions to `upstream`'s (None: incompatible, no mapping)."""
    explicit = spec.partition_mappings.get(upstream.name)
    if explicit is not None:
        return explicit
    if spec.partitions is None and upstream.partitions is None:
        return None
    return default_mapping(spec.partitions, upstream.partitions)


def _nests(down: PartitionsDefinition, up: PartitionsDefinition) -> bool:
    # A window of `down` lies inside exactly one window of `up` (same zone, `up` as coarse or
    # coarser, and weeks never split days while months never split days or hours).
    if not (isinstance(down, TimeWindowPartitions) and isinstance(up, TimeWindowPartitions)):
        return False
    if getattr(down, "timezone", None) != getattr(up, "timezone", None):
        return False
    grain_down, grain_up = _GRAIN.get(type(down), 0), _GRAIN.get(type(up), 0)
    if not grain_down or not grain_up or grain_up < grain_down:
        return False
    return not (isinstance(up, MonthlyPartitions) and isinstance(down, WeeklyPartitions))


def is_keyed(spec: AssetSpec, upstream: AssetSpec) -> bool:
    """Whether `spec`'s parameter for `upstream` receives a dict of partition key -> value.

    Decided per edge, never per step, so a function always gets the same shape: a single value
    when the mapping can only ever yield one upstream partition (no partitions upstream, the
    same key, or one window at a fixed offset of an equal or coarser calendar), else a dict.
    """
    if upstream.partitions is None:
        return False
    mapping = mapping_for(spec, upstream)
    if mapping is None or isinstance(mapping, UnpartitionedMapping):
        return False
    if spec.partitions is not None and mapping.preserves_keys(spec.partitions, upstream.partitions):
        return False
    return not _single(mapping, spec.partitions, upstream.partitions)


def _single(mapping: PartitionMapping, down: PartitionsDefinition | None,
            up: PartitionsDefinition) -> bool:
    if down is None:
        return False
    if isinstance(mapping, IdentityMapping):
        return True
    if isinstance(mapping, TimeWindowMapping):
        return mapping.start_offset == mapping.end_offset and _nests(down, up)
    if (isinstance(mapping, DimensionMapping) and isinstance(down, MultiPartitions)
            and not isinstance(up, MultiPartitions)):
        # A tenant x date asset reading a daily one: its date picks one upstream key.
        return _single(mapping.mapping, down.dimension(mapping.dimension), up)
    return False


def _mapped(spec: AssetSpec, upstream: AssetSpec, partition: str | None, *, reverse: bool,
            now: datetime | None, dynamic_keys: DynamicKeys | None) -> list[str | None]:
    if spec.partitions is None and upstream.partitions is None:
        return [None]
    mapping = mapping_for(spec, upstream)
    if mapping is None:
        return []
    if reverse:
        return list(mapping.downstream_keys(partition, upstream=upstream.partitions,
                                            downstream=spec.partitions,
                                            dynamic_keys=dynamic_keys, now=now))
    return list(mapping.upstream_keys(partition, downstream=spec.partitions,
                                      upstream=upstream.partitions,
                                      dynamic_keys=dynamic_keys, now=now))


def upstream_keys(spec: AssetSpec, partition: str | None, upstream: AssetSpec, *,
                  now: datetime | None = None,
                  dynamic_keys: DynamicKeys | None = None) -> list[str | None]:
    """The upstream partitions step (`spec`, `partition`) reads from `upstream`."""
    return _mapped(spec, upstream, partition, reverse=False, now=now, dynamic_keys=dynamic_keys)


def downstream_keys(upstream: AssetSpec, partition: str | None, spec: AssetSpec, *,
                    now: datetime | None = None,
                    dynamic_keys: DynamicKeys | None = None) -> list[str | None]:
    """The partitions of `spec` that read partition `partition` of `upstream`."""
    return _mapped(spec, upstream, partition, reverse=True, now=now, dynamic_keys=dynamic_keys)


def partition_problems(specs: Mapping[str, AssetSpec],
                       tenant_dimension: str | None = None) -> list[Problem]:
    """Load-time checks of partitions: definition types, mappings, tenant isolation."""
    problems: list[Problem] = []
    for spec in specs.values():
        if spec.partitions is not None and not isinstance(spec.partitions, PartitionsDefinition):
            problems.append(Problem("bad_partitions", f"asset `{spec.name}`: partitions= takes a "
                                    f"partitions definition, got {spec.partitions!r}",
                                    spec.location, "Use e.g. DailyPartitions(start=...)."))
            continue
        for name, mapping in spec.partition_mappings.items():
            if name not in spec.upstream:
                problems.append(Problem("bad_mapping", f"asset `{spec.name}` declares a partition "
                                        f"mapping for `{name}`, which is not one of its upstream "
                                        "assets", spec.location,
                                        f"Upstream assets: {', '.join(spec.upstream) or 'none'}."))
            elif not isinstance(mapping, PartitionMapping):
                problems.append(Problem("bad_mapping", f"asset `{spec.name}`: the mapping for "
                                        f"`{name}` is not a partition mapping ({mapping!r})",
                                        spec.location, "Use e.g. TimeWindowMapping(-1, -1)."))
        for name in spec.upstream:
            upstream = specs.get(name)
            if upstream is None or not isinstance(upstream.partitions,
                                                  (PartitionsDefinition, type(None))):
                continue
            if spec.partitions is None and upstream.partitions is None:
                continue
            mapping = mapping_for(spec, upstream)
            if mapping is None:
                problems.append(Problem(
                    "incompatible_partitions", f"asset `{spec.name}` ({_describe(spec)}) cannot "
                    f"read `{name}` ({_describe(upstream)}) without a partition mapping",
                    spec.location, f"Add partition_mappings={{\"{name}\": ...}} to @asset, e.g. "
                                   "AllPartitionsMapping() or TimeWindowMapping()."))
                continue
            problem = mapping.validate(spec.partitions, upstream.partitions)
            if problem:
                problems.append(Problem("bad_mapping", f"asset `{spec.name}` reading `{name}`: "
                                        f"{problem}", spec.location,
                                        "Choose a mapping that fits both partition definitions."))
            elif (tenant_dimension and not spec.cross_tenant
                  and crosses_dimension(mapping, spec.partitions, upstream.partitions,
                                        tenant_dimension)):
                problems.append(Problem(
                    "cross_tenant", f"asset `{spec.name}` would read other tenants' partitions of "
                    f"`{name}` (tenant dimension `{tenant_dimension}`)", spec.location,
                    "Map the tenant dimension one-to-one, or declare @asset(cross_tenant=True) "
                    "if this asset may combine tenants."))
    return problems


def _describe(spec: AssetSpec) -> str:
    if spec.partitions is None:
        return "unpartitioned"
    describe = getattr(spec.partitions, "describe", None)
    return describe() if callable(describe) else repr(spec.partitions)


def multi_dimensions(spec: AssetSpec) -> tuple[str, ...]:
    """Dimension names of a multi-partitioned asset (empty otherwise)."""
    return tuple(spec.partitions.dimension_names) if isinstance(spec.partitions,
                                                                MultiPartitions) else ()

"""The mapping used between two assets when the downstream does not name one.

`default_mapping` returns None when no mapping is obvious; the project loader reports that as a
load-time problem asking for `partition_mappings=`, so nothing is guessed at run time.
"""

from __future__ import annotations

from flowstone_cli.partitions.mappings import (
    AllPartitionsMapping,
    Definition,
    IdentityMapping,
    PartitionMapping,
    TimeWindowMapping,
    UnpartitionedMapping,
)
from flowstone_cli.partitions.multi import MultiPartitions
from flowstone_cli.partitions.multi_mappings import DimensionMapping, MultiPartitionMapping
from flowstone_cli.partitions.time_windows import TimeWindowPartitions


def default_mapping(downstream: Definition, upstream: Definition) -> PartitionMapping | None:
    """The mapping between two assets' partitions when none is given, or None if there is none.

    - equal definitions (or both unpartitioned): `IdentityMapping`;
    - partitioned downstream, unpartitioned upstream: `UnpartitionedMapping`;
    - unpartitioned downstream, partitioned upstream: `AllPartitionsMapping`;
    - time on both sides in the same time zone (any granularities): `TimeWindowMapping()`;
    - one side multi, the other single, and the multi has exactly one dimension equal to the
      single definition: `DimensionMapping(dimension=that name)`;
    - multi on both sides with the same dimension names, each pair having a default:
      `MultiPartitionMapping` of those defaults;
    - anything else (static vs daily, different time zones, ...): None.
    """
    if downstream == upstream:
        return IdentityMapping()
    if upstream is None:
        return UnpartitionedMapping()
    if downstream is None:
        return AllPartitionsMapping()
    if isinstance(downstream, TimeWindowPartitions) and isinstance(upstream,
                                                                   TimeWindowPartitions):
        return TimeWindowMapping() if downstream.timezone == upstream.timezone else None
    if isinstance(downstream, MultiPartitions) and isinstance(upstream, MultiPartitions):
        return _multi_default(downstream, upstream)
    if isinstance(downstream, MultiPartitions):
        return _dimension_default(downstream, upstream)
    if isinstance(upstream, MultiPartitions):
        return _dimension_default(upstream, downstream)
    return None


def _dimension_default(multi: MultiPartitions, single: Definition) -> PartitionMapping | None:
    matches = [name for name, definition in multi.dimensions if definition == single]
    return DimensionMapping(dimension=matches[0]) if len(matches) == 1 else None


def _multi_default(downstream: MultiPartitions,
                   upstream: MultiPartitions) -> PartitionMapping | None:
    if set(downstream.dimension_names) != set(upstream.dimension_names):
        return None
    per_dimension: dict[str, PartitionMapping] = {}
    for name in downstream.dimension_names:
        mapping = default_mapping(downstream.dimension(name), upstream.dimension(name))
        if mapping is None:
            return None
        if not isinstance(mapping, IdentityMapping):
            per_dimension[name] = mapping
    return MultiPartitionMapping(**per_dimension)

"""Why a requested partition key does not fit: before the first or after the last partition.

`partitions_for` first tries to read a request in each asset's terms; when that fails for an
asset, this module tells a well-formed key that lies outside the definition's range ("2024-12-31
is before the first partition (2025-01-01)") from a key that is not a key at all (which keeps
the definition's own "not a valid partition key" message).
"""

from __future__ import annotations

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import MultiPartitions, PartitionsDefinition, TimeWindowPartitions


def _time_definition(definition: PartitionsDefinition) -> TimeWindowPartitions | None:
    if isinstance(definition, TimeWindowPartitions):
        return definition
    if isinstance(definition, MultiPartitions) and definition.time_dimension:
        dimension = definition.dimension(definition.time_dimension)
        return dimension if isinstance(dimension, TimeWindowPartitions) else None
    return None


def out_of_range(definition: PartitionsDefinition, keys: list[str]) -> PartitionError | None:
    """The error for the first well-formed key of `keys` outside `definition`'s range, if any."""
    timed = _time_definition(definition)
    if timed is None:
        return None
    first_slot = timed._first_slot
    end_slot = timed._end_slot
    for key in keys:
        try:
            slot = timed._slot(key)
        except PartitionError:
            continue  # not a key of this definition at all: its own message says so
        if slot < first_slot:
            first = timed._format(first_slot)
            return PartitionError(f"{key} is before the first partition ({first})",
                                  hint=f"{timed.kind.capitalize()} partitions start at {first}.")
        if end_slot is not None and slot >= end_slot:
            last = timed._format(end_slot - 1)
            return PartitionError(f"{key} is after the last partition ({last})",
                                  hint=f"{timed.kind.capitalize()} partitions end at {last}.")
    return None

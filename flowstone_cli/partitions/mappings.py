"""Partition mappings: which partitions of an upstream asset one partition of a downstream reads.

A mapping is a small frozen object given in `@asset(partition_mappings={"raw_events": ...})`, or
chosen by `default_mapping`. It answers three questions about a (downstream, upstream) pair of
definitions, where `None` stands for an unpartitioned asset and a `None` key for its one value:

- `upstream_keys(downstream_key, downstream=, upstream=)`: what a downstream step reads (planning);
- `downstream_keys(upstream_key, upstream=, downstream=)`: who reads an upstream partition (impact);
- `validate(downstream, upstream)`: why the mapping cannot apply, checked by `flowstone check`.

The two directions are exact inverses. Keys a mapping would produce outside the target's range
(`start`/`end` of time partitions, the keys of static partitions) are dropped, so "yesterday" of
the first day is an empty list. `now` (default: the current time) bounds time partitions where a
mapping lists all keys of a dimension.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions.definitions import (
    DynamicKeys,
    DynamicPartitions,
    PartitionsDefinition,
    StaticPartitions,
)
from flowstone_cli.partitions.multi import MultiPartitions
from flowstone_cli.partitions.time_overlap import (
    last_n_downstream_keys,
    last_n_upstream_keys,
    offset_downstream_keys,
    offset_upstream_keys,
    same_calendar,
)
from flowstone_cli.partitions.time_windows import TimeWindowPartitions

Definition = PartitionsDefinition | None
Keys = list[str | None]


def describe(definition: Definition) -> str:
    """A definition for a message; `unpartitioned` for None."""
    return "unpartitioned" if definition is None else definition.describe()


def has_dimension(definition: Definition, dimension: str) -> bool:
    """True when `definition` is multi-partitioned with a dimension named `dimension`."""
    return isinstance(definition, MultiPartitions) and dimension in definition.dimension_names


class PartitionMapping(ABC):
    """Base of all partition mappings; see the module docstring for the three questions."""

    def __getstate__(self) -> dict[str, object]:
        # Attributes starting with `_` are caches rebuilt on demand; keep pickles small.
        return {name: value for name, value in self.__dict__.items() if not name.startswith("_")}

    @abstractmethod
    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        """Upstream keys that the downstream partition `downstream_key` reads."""

    @abstractmethod
    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        """Downstream keys that read the upstream partition `upstream_key` (the inverse)."""

    @abstractmethod
    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        """A message saying why this mapping cannot link these definitions, or None."""

    def preserves_keys(self, downstream: Definition, upstream: Definition) -> bool:
        """True when every downstream key reads only the upstream key equal to it."""
        return False

    def crosses_dimension(self, downstream: Definition, upstream: Definition,
                          dimension: str) -> bool:
        """True when a downstream key may read upstream keys of another `dimension` value (e.g.
        tenant=acme reading tenant=globex). Mappings that do not know say True if they can."""
        return has_dimension(upstream, dimension) and not self.preserves_keys(downstream, upstream)

    def _check(self, downstream: Definition, upstream: Definition) -> None:
        problem = self.validate(downstream, upstream)
        if problem:
            raise PartitionError(problem, hint="Fix the asset's partition_mappings; "
                                               "`flowstone check` lists every such problem.")


@dataclass(frozen=True)
class IdentityMapping(PartitionMapping):
    """Each downstream partition reads the upstream partition with the same key."""

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        return _same_key(downstream_key, downstream, upstream, dynamic_keys)

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        return _same_key(upstream_key, upstream, downstream, dynamic_keys)

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        if downstream == upstream:
            return None
        if downstream is None or upstream is None:
            return (f"IdentityMapping needs partitions on both sides or on neither; downstream "
                    f"is {describe(downstream)}, upstream is {describe(upstream)}")
        return _identity_problem(downstream, upstream)

    def preserves_keys(self, downstream: Definition, upstream: Definition) -> bool:
        return True


def _same_key(key: str | None, source: Definition, target: Definition,
              dynamic_keys: DynamicKeys | None) -> Keys:
    if source is None or target is None:
        IdentityMapping()._check(source, target)
        return [None]
    if key is None:
        raise PartitionError("IdentityMapping between partitioned assets needs a partition key",
                             hint="Pass the key of the partition being planned.")
    try:
        return [target.validate_key(key, dynamic_keys=dynamic_keys)]
    except PartitionError:
        # A malformed key is the caller's error; a well-formed key the target lacks is dropped.
        source.validate_key(key, dynamic_keys=dynamic_keys, check_range=False)
        return []


def _identity_problem(downstream: PartitionsDefinition,
                      upstream: PartitionsDefinition) -> str | None:
    if isinstance(downstream, StaticPartitions) and isinstance(upstream, StaticPartitions):
        missing = [k for k in downstream.partition_keys if k not in upstream.partition_keys]
        return None if not missing else (
            f"IdentityMapping: downstream keys {', '.join(missing[:5])} are not partitions of "
            f"the upstream ({describe(upstream)})")
    if isinstance(downstream, TimeWindowPartitions) and isinstance(upstream,
                                                                   TimeWindowPartitions):
        return None if same_calendar(downstream, upstream) else (
            f"IdentityMapping needs the same granularity and time zone on both sides; "
            f"downstream is {describe(downstream)}, upstream is {describe(upstream)} "
            "(use TimeWindowMapping between granularities)")
    if isinstance(downstream, DynamicPartitions) and isinstance(upstream, DynamicPartitions):
        return None
    if isinstance(downstream, MultiPartitions) and isinstance(upstream, MultiPartitions) and \
            set(downstream.dimension_names) == set(upstream.dimension_names):
        for name in downstream.dimension_names:
            down, up = downstream.dimension(name), upstream.dimension(name)
            problem = None if down == up else _identity_problem(down, up)
            if problem:
                return f"dimension {name!r}: {problem}"
        return None
    return (f"IdentityMapping needs the same kind of partitions on both sides; downstream is "
            f"{describe(downstream)}, upstream is {describe(upstream)}")


def _time_problem(name: str, downstream: Definition, upstream: Definition) -> str | None:
    if isinstance(downstream, TimeWindowPartitions) and isinstance(upstream,
                                                                   TimeWindowPartitions):
        return None
    return (f"{name} needs time partitions on both sides; downstream is {describe(downstream)}, "
            f"upstream is {describe(upstream)}")


def _time_pair(name: str, downstream: Definition, upstream: Definition,
               key: str | None) -> tuple[TimeWindowPartitions, TimeWindowPartitions, str]:
    """The two definitions as time partitions and the key as a string, or a PartitionError."""
    if not isinstance(downstream, TimeWindowPartitions) or not isinstance(
            upstream, TimeWindowPartitions):
        raise PartitionError(str(_time_problem(name, downstream, upstream)),
                             hint="Fix the asset's partition_mappings; `flowstone check` lists "
                                  "every such problem.")
    if key is None:
        raise PartitionError(f"{name} needs a partition key, got None",
                             hint="Time partitions always have a key.")
    return downstream, upstream, key


@dataclass(frozen=True)
class TimeWindowMapping(PartitionMapping):
    """Upstream windows overlapping the downstream window, shifted by offsets.

    Offsets count downstream windows: with daily on both sides, `TimeWindowMapping(-1, -1)` is
    "yesterday" and `TimeWindowMapping(-6, 0)` "the last 7 days". With offsets 0, a monthly
    asset reading a daily one reads every day of its month, and a daily asset reading a monthly
    one reads the month containing its day. The two sides may use different time zones.

    Args:
        start_offset: shift of the start of the read span, in downstream windows.
        end_offset: shift of the end of the read span; must be >= `start_offset`.
    """

    start_offset: int = 0
    end_offset: int = 0

    def __post_init__(self) -> None:
        for value in (self.start_offset, self.end_offset):
            if not isinstance(value, int) or isinstance(value, bool):
                raise PartitionError(f"TimeWindowMapping offsets must be integers, got {value!r}",
                                     hint="Write e.g. TimeWindowMapping(start_offset=-1, "
                                          "end_offset=-1) for the previous window.")
        if self.start_offset > self.end_offset:
            raise PartitionError(f"TimeWindowMapping start_offset {self.start_offset} is after "
                                 f"end_offset {self.end_offset}",
                                 hint="start_offset must be <= end_offset.")

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        down, up, key = _time_pair("TimeWindowMapping", downstream, upstream, downstream_key)
        return list(offset_upstream_keys(down, key, up, self.start_offset, self.end_offset))

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        down, up, key = _time_pair("TimeWindowMapping", downstream, upstream, upstream_key)
        return list(offset_downstream_keys(up, key, down, self.start_offset, self.end_offset))

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        return _time_problem("TimeWindowMapping", downstream, upstream)

    def preserves_keys(self, downstream: Definition, upstream: Definition) -> bool:
        return (self.start_offset == self.end_offset == 0
                and isinstance(downstream, TimeWindowPartitions)
                and isinstance(upstream, TimeWindowPartitions)
                and same_calendar(downstream, upstream))


@dataclass(frozen=True)
class LastNWindowsMapping(PartitionMapping):
    """The `n` upstream windows ending with (and including) the downstream's window.

    The downstream's window on the upstream side is the last upstream window overlapping it, so
    a daily asset reading `LastNWindowsMapping(7)` of a daily asset reads its day and the six
    before it, and `LastNWindowsMapping(3)` of an hourly asset reads the last three hours of its
    day. Counting is in upstream windows (unlike `TimeWindowMapping`'s offsets).

    Args:
        n: number of upstream windows, at least 1.
    """

    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise PartitionError(f"LastNWindowsMapping needs n >= 1, got {self.n!r}",
                                 hint="Write e.g. LastNWindowsMapping(7) for a week of days.")

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        down, up, key = _time_pair("LastNWindowsMapping", downstream, upstream, downstream_key)
        return list(last_n_upstream_keys(down, key, up, self.n))

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        down, up, key = _time_pair("LastNWindowsMapping", downstream, upstream, upstream_key)
        return list(last_n_downstream_keys(up, key, down, self.n))

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        return _time_problem("LastNWindowsMapping", downstream, upstream)

    def preserves_keys(self, downstream: Definition, upstream: Definition) -> bool:
        return (self.n == 1 and isinstance(downstream, TimeWindowPartitions)
                and isinstance(upstream, TimeWindowPartitions)
                and same_calendar(downstream, upstream))


@dataclass(frozen=True)
class AllPartitionsMapping(PartitionMapping):
    """Every downstream partition (or the unpartitioned downstream) reads every upstream key."""

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        if upstream is None:
            return [None]
        return list(upstream.keys(now=now, dynamic_keys=dynamic_keys))

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        if downstream is None:
            return [None]
        return list(downstream.keys(now=now, dynamic_keys=dynamic_keys))

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        return None


@dataclass(frozen=True)
class UnpartitionedMapping(PartitionMapping):
    """A partitioned downstream reading an unpartitioned upstream: every key reads its value."""

    def upstream_keys(self, downstream_key: str | None, *, downstream: Definition,
                      upstream: Definition, dynamic_keys: DynamicKeys | None = None,
                      now: datetime | None = None) -> Keys:
        self._check(downstream, upstream)
        return [None]

    def downstream_keys(self, upstream_key: str | None, *, upstream: Definition,
                        downstream: Definition, dynamic_keys: DynamicKeys | None = None,
                        now: datetime | None = None) -> Keys:
        self._check(downstream, upstream)
        if downstream is None:
            return [None]
        return list(downstream.keys(now=now, dynamic_keys=dynamic_keys))

    def validate(self, downstream: Definition, upstream: Definition) -> str | None:
        if upstream is None:
            return None
        return (f"UnpartitionedMapping reads an unpartitioned upstream, but the upstream has "
                f"{describe(upstream)} (use AllPartitionsMapping to read every partition)")

    def preserves_keys(self, downstream: Definition, upstream: Definition) -> bool:
        return downstream is None and upstream is None


def crosses_dimension(mapping: PartitionMapping, downstream: Definition, upstream: Definition,
                      dimension: str) -> bool:
    """True when `mapping` could make a downstream key whose `dimension` is A read an upstream
    key whose `dimension` is not A, e.g. a tenant's partition reading another tenant's data.

    A downstream without the dimension reading many of its values (an unpartitioned report over
    every tenant) counts as crossing; reading an upstream that has no such dimension does not.
    """
    return mapping.crosses_dimension(downstream, upstream, dimension)

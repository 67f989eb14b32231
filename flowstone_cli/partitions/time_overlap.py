"""Which windows of one time definition overlap windows of another: the engine of time mappings.

Works on the integer slots of `TimeWindowPartitions` (a package-internal API). When both sides
share granularity and time zone, windows line up one to one and everything is slot arithmetic;
otherwise overlaps are found on the wall clock (converted through UTC when the zones differ).
Keys outside the target definition's `start`/`end` are dropped.
"""

from __future__ import annotations

from datetime import timedelta

from flowstone_cli.partitions.time_windows import TimeWindowPartitions

_TICK = timedelta(microseconds=1)  # windows end exclusively: their last instant is end - tick


def same_calendar(left: TimeWindowPartitions, right: TimeWindowPartitions) -> bool:
    """True when both definitions have the same windows (granularity and zone; range may differ)."""
    return (type(left) is type(right) and left.timezone == right.timezone
            and getattr(left, "week_start", None) == getattr(right, "week_start", None))


def _overlapping(source: TimeWindowPartitions, first: int, last: int,
                 target: TimeWindowPartitions) -> range | list[int]:
    """Slots of `target` whose windows overlap source's windows `first`..`last`."""
    if same_calendar(source, target):
        return target._slots_between(first, last)
    if source.timezone == target.timezone:
        if first == last and source._nests_in(target):
            slot = target._slot_of_wall(source._slot_start(first))  # the one window around it
            return range(slot, slot + 1)
        return target._slots_overlapping(*source._span(first, last))
    # Different zones: compare real instants, since a wall time may be repeated in one zone.
    start, end = source._instant_span(first, last)
    return target._slots_between(target._slot_at(start), target._slot_at(end - _TICK))


def _last_overlapping(source: TimeWindowPartitions, slot: int,
                      target: TimeWindowPartitions) -> int:
    """The last slot of `target` overlapping source's window `slot`."""
    if same_calendar(source, target):
        return slot
    if source.timezone == target.timezone:
        return target._slot_before(source._span(slot, slot)[1])
    return target._slot_at(source._instant_span(slot, slot)[1] - _TICK)


def _keys_in_range(target: TimeWindowPartitions, slots: range | list[int]) -> list[str]:
    if isinstance(slots, range):  # contiguous: a slice of the key table
        return target._range_keys(slots.start, slots.stop)
    first, end, key = target._first_slot, target._end_slot, target._key
    return [key(slot) for slot in slots if slot >= first and (end is None or slot < end)]


def offset_upstream_keys(downstream: TimeWindowPartitions, key: str,
                         upstream: TimeWindowPartitions, start_offset: int,
                         end_offset: int) -> list[str]:
    """Upstream keys overlapping the downstream window of `key` shifted by the offsets."""
    slot = downstream._slot(key)
    if start_offset == end_offset == 0 and same_calendar(downstream, upstream):
        return [key] if upstream._in_range(slot) else []  # the common case: same key
    first = downstream._shift(slot, start_offset)
    last = first if end_offset == start_offset else downstream._shift(slot, end_offset)
    return _keys_in_range(upstream, _overlapping(downstream, first, last, upstream))


def offset_downstream_keys(upstream: TimeWindowPartitions, key: str,
                           downstream: TimeWindowPartitions, start_offset: int,
                           end_offset: int) -> list[str]:
    """Inverse of `offset_upstream_keys`: downstream keys whose shifted window reads `key`."""
    slot = upstream._slot(key)
    if not upstream._in_range(slot):
        return []  # nothing reads an upstream key outside its definition
    hit = _overlapping(upstream, slot, slot, downstream)
    if not hit:
        return []
    # Downstream d reads windows d+start_offset .. d+end_offset; that meets `hit` exactly when
    # hit[0] - end_offset <= d <= hit[-1] - start_offset.
    first = downstream._shift(hit[0], -end_offset)
    last = downstream._shift(hit[-1], -start_offset)
    return _keys_in_range(downstream, downstream._slots_between(first, last))


def last_n_upstream_keys(downstream: TimeWindowPartitions, key: str,
                         upstream: TimeWindowPartitions, count: int) -> list[str]:
    """The `count` upstream windows ending with the last one overlapping the window of `key`."""
    last = _last_overlapping(downstream, downstream._slot(key), upstream)
    first = upstream._shift(last, -(count - 1))
    return _keys_in_range(upstream, upstream._slots_between(first, last))


def last_n_downstream_keys(upstream: TimeWindowPartitions, key: str,
                           downstream: TimeWindowPartitions, count: int) -> list[str]:
    """Inverse of `last_n_upstream_keys`."""
    slot = upstream._slot(key)
    if not upstream._in_range(slot):
        return []
    last = upstream._shift(slot, count - 1)
    # A downstream window reading `slot` overlaps its own last upstream window, which lies in
    # slot..last, so it is among the windows overlapping that span; keep those whose last is there.
    return _keys_in_range(downstream, [
        found for found in _overlapping(upstream, slot, last, downstream)
        if slot <= _last_overlapping(downstream, found, upstream) <= last])

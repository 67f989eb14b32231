"""Where a time zone's wall clock skips: the end of a gap, and the hours skipped entirely.

Daylight saving time and zone changes move the clock forward, leaving wall times that never
happen. Windows that would start in such a gap start where it ends, and an hourly key exists when
any minute of its hour exists. Pure functions over `zoneinfo`, cached where called per key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# Skipped hours are looked up per block of days rather than per calendar year: finding the block
# of a slot is one integer division, finding its year would mean building a date.
BLOCK_DAYS = 512
_LAST_OF_HOUR = timedelta(minutes=59, seconds=59, microseconds=999999)
_SECOND = timedelta(seconds=1)


def gap_end(zone: ZoneInfo, wall: datetime) -> datetime:
    """The UTC instant at which the gap containing the skipped wall time `wall` ends.

    Read with the offset after the change, `wall` lies before the change; read with the offset
    before it, after the change. The change is found between the two by bisection to the second
    (gaps are rare: only window starts that fall in one get here).
    """
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if low >= high:
        return high
    offset = low.astimezone(zone).utcoffset()
    while high - low > _SECOND:
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle <= low:
            middle = low + _SECOND
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


@lru_cache(maxsize=1024)
def skipped_hours(zone_name: str, block: int) -> tuple[int, ...]:
    """Hourly slots in a block of days whose wall-clock hour the zone skips entirely.

    An hour exists when any minute of it exists: Australia/Lord_Howe's 02:00 hour on the day its
    clocks go from 02:00 to 02:30 lasts 30 minutes and has a key. Only days whose UTC offset
    differs between their two midnights (and the day after, whose midnight may be skipped) can
    skip an hour, so only those are looked at hour by hour.
    """
    zone = ZoneInfo(zone_name)
    skipped: set[int] = set()
    first_day = max(block * BLOCK_DAYS, 1)
    offset = datetime.fromordinal(first_day).replace(tzinfo=zone).utcoffset()
    for day in range(first_day, (block + 1) * BLOCK_DAYS):
        next_offset = datetime.fromordinal(day + 1).replace(tzinfo=zone).utcoffset()
        if next_offset != offset:
            for hour in range(48):
                slot = day * 24 + hour
                if slot < (block + 1) * BLOCK_DAYS * 24 and _hour_skipped(zone, slot):
                    skipped.add(slot)
        offset = next_offset
    return tuple(sorted(skipped))  # a handful of entries, so `in` is a short scan


def _hour_skipped(zone: ZoneInfo, slot: int) -> bool:
    """True when no minute of the wall-clock hour `slot` exists in `zone`.

    Both ends are looked at first; only when both are missing (the common skipped hour) is every
    minute checked, so that an hour in which one gap ends and another begins still counts.
    """
    start = datetime.fromordinal(slot // 24).replace(hour=slot % 24)
    if _exists_wall(zone, start) or _exists_wall(zone, start + _LAST_OF_HOUR):
        return False
    return not any(_exists_wall(zone, start + timedelta(minutes=minute)) for minute in range(60))


def _exists_wall(zone: ZoneInfo, wall: datetime) -> bool:
    back = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) == wall

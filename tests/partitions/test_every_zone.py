"""Property test over every zone of the tz database, 2020-2030: day x hour and month x day.

For each zone, the days around every UTC-offset change (where daylight saving time, a skipped
midnight or a 30-minute shift happens) plus a seeded sample of ordinary days are checked:

- the two directions of `TimeWindowMapping` are exact inverses (an hour is listed by a day exactly
  when that day is the one day the hour maps to; the same for days and months);
- a day's hours tile the day's window, and a month's days tile the month's window, with no gap and
  no overlap (compared as UTC instants).
"""

from __future__ import annotations

import random
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from flowstone_cli.partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    TimeWindowMapping,
    TimeWindowPartitions,
)

FIRST, LAST = date(2020, 1, 1), date(2030, 12, 31)
MAPPING = TimeWindowMapping()
SAMPLED_DAYS = 3
ZONES = sorted(zoneinfo.available_timezones())


def _changing_days(zone: zoneinfo.ZoneInfo) -> list[date]:
    """Days whose two midnights have different UTC offsets, and the day after each."""
    found: set[date] = set()
    day = FIRST
    offset = datetime(day.year, day.month, day.day, tzinfo=zone).utcoffset()
    while day < LAST:
        following = day + timedelta(days=1)
        next_offset = datetime(following.year, following.month, following.day,
                               tzinfo=zone).utcoffset()
        if next_offset != offset:
            found.update((day, following))  # a skipped midnight shows on the day after
        day, offset = following, next_offset
    return sorted(d for d in found if FIRST < d < LAST)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _check_tiling(outer: TimeWindowPartitions, outer_key: str, inner: TimeWindowPartitions,
                  inner_keys: list[str]) -> None:
    start, end = (_utc(moment) for moment in outer.window(outer_key))
    assert inner_keys, f"{outer.timezone} {outer_key}: no {inner.kind} keys"
    cursor = start
    for key in inner_keys:
        window_start, window_end = (_utc(moment) for moment in inner.window(key))
        assert window_start == cursor, (outer.timezone, outer_key, key, "gap or overlap")
        assert window_end > window_start, (outer.timezone, key, "empty window")
        cursor = window_end
    assert cursor == end, (outer.timezone, outer_key, "the last window does not end the outer one")


def _check_inverse(outer: TimeWindowPartitions, outer_key: str, inner: TimeWindowPartitions,
                   inner_keys: list[str]) -> None:
    for key in inner_keys:
        assert MAPPING.downstream_keys(key, upstream=inner, downstream=outer) == [outer_key], (
            outer.timezone, outer_key, key)


def _check_zone(name: str, days: list[date]) -> None:
    daily = DailyPartitions(start="2019-12-01", end="2031-02-01", timezone=name)
    hourly = HourlyPartitions(start="2019-12-01", end="2031-02-01", timezone=name)
    monthly = MonthlyPartitions(start="2019-12", end="2031-02", timezone=name)
    months: set[str] = set()
    for day in days:
        day_key = day.isoformat()
        hours = MAPPING.upstream_keys(day_key, downstream=daily, upstream=hourly)
        _check_tiling(daily, day_key, hourly, hours)
        _check_inverse(daily, day_key, hourly, hours)
        assert all(hour.startswith(day_key) for hour in hours), (name, day_key, hours)
        months.add(day_key[:7])
    for month in sorted(months):
        month_days = MAPPING.upstream_keys(month, downstream=monthly, upstream=daily)
        _check_tiling(monthly, month, daily, month_days)
        _check_inverse(monthly, month, daily, month_days)


@pytest.mark.parametrize("group", range(8))
def test_days_hours_and_months_agree_in_every_zone(group: int) -> None:
    sampler = random.Random(group)
    span = (LAST - FIRST).days
    for name in ZONES[group::8]:
        days = _changing_days(zoneinfo.ZoneInfo(name))
        days += [FIRST + timedelta(days=sampler.randrange(1, span)) for _ in range(SAMPLED_DAYS)]
        _check_zone(name, sorted(set(days)))


@pytest.mark.parametrize(("zone", "day", "first_hour", "count"), [
    ("America/Santiago", "2025-09-07", "2025-09-07T01:00", 23),  # midnight skipped
    ("Africa/Cairo", "2025-04-25", "2025-04-25T01:00", 23),
    ("America/Havana", "2025-03-09", "2025-03-09T01:00", 23),
    ("Australia/Lord_Howe", "2025-10-05", "2025-10-05T00:00", 24),  # 02:00 lasts 30 minutes
    ("Europe/Berlin", "2025-10-26", "2025-10-26T00:00", 24),  # 02:00 covers both passes
])
def test_the_hours_of_a_day_around_a_change(zone: str, day: str, first_hour: str,
                                            count: int) -> None:
    daily = DailyPartitions(start="2025-01-01", end="2026-01-01", timezone=zone)
    hourly = HourlyPartitions(start="2025-01-01", end="2026-01-01", timezone=zone)
    hours = MAPPING.upstream_keys(day, downstream=daily, upstream=hourly)
    assert (hours[0], len(hours)) == (first_hour, count)
    before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    assert MAPPING.upstream_keys(before, downstream=daily, upstream=hourly)[-1] == \
        f"{before}T23:00"
    assert MAPPING.downstream_keys(f"{before}T23:00", upstream=hourly, downstream=daily) == \
        [before]

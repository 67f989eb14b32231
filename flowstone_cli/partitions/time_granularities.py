"""The four time granularities: hourly, daily, weekly (from any day of the week) and monthly.

Each class only says how its keys look and how a key maps to an integer slot and back; ranges,
windows and `now` handling live in `TimeWindowPartitions`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions.clock_gaps import BLOCK_DAYS, skipped_hours
from flowstone_cli.partitions.definitions import show_key
from flowstone_cli.partitions.time_windows import TimeWindowPartitions

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00")
_HOUR_PATH = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-00")
_HOUR_SUFFIXES = tuple(f"T{hour:02d}:00" for hour in range(24))


def _bad_key(definition: TimeWindowPartitions, key: object, example: str) -> PartitionError:
    return PartitionError(f"{definition.kind} partition key {show_key(key)} is not valid: "
                          f"expected {definition.key_format}",
                          hint=f"{definition.kind.capitalize()} keys look like {example}.")


def _parse_date(definition: TimeWindowPartitions, key: object, example: str) -> date:
    if not isinstance(key, str) or _DAY.fullmatch(key) is None:
        raise _bad_key(definition, key, example)
    try:
        return date.fromisoformat(key)  # the pattern above already pinned the exact form
    except ValueError as err:
        raise _bad_key(definition, key, example) from err


class DailyPartitions(TimeWindowPartitions):
    """One partition per calendar day of the time zone; key `2025-01-15`.

    A day runs from local midnight to the next local midnight, so around daylight saving time
    changes it is 23 or 25 hours long. See `TimeWindowPartitions` for the arguments.

    Example:
        `DailyPartitions(start="2025-01-01", timezone="Europe/Berlin")`
    """

    kind: ClassVar[str] = "daily"
    key_format: ClassVar[str] = "YYYY-MM-DD"
    _rank: ClassVar[int] = 1
    _nested: ClassVar[bool] = True

    def _parse(self, key: str) -> int:
        return _parse_date(self, key, "2025-01-15").toordinal()

    def _format(self, slot: int) -> str:
        return date.fromordinal(slot).isoformat()

    def _slot_start(self, slot: int) -> datetime:
        return datetime.fromordinal(slot)

    def _slot_of_wall(self, wall: datetime) -> int:
        return wall.toordinal()


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, eq=False)
class WeeklyPartitions(TimeWindowPartitions):
    """One partition per week of seven days from `week_start` 00:00; key = that first day's date.

    Args:
        week_start: the day weeks start on, `"monday"` (the default, ISO 8601) to `"sunday"`
            (as US calendars do); the other arguments are those of `TimeWindowPartitions`.

    Example:
        `WeeklyPartitions(start="2025-01-06")` has keys `2025-01-06`, `2025-01-13`, ... and
        `WeeklyPartitions(start="2025-01-05", week_start="sunday")` has `2025-01-05`,
        `2025-01-12`, ...
    """

    week_start: str = "monday"

    kind: ClassVar[str] = "weekly"
    key_format: ClassVar[str] = "YYYY-MM-DD (the first day of a week)"
    _rank: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if not isinstance(self.week_start, str) or self.week_start.lower() not in _WEEKDAYS:
            raise PartitionError(f"WeeklyPartitions: week_start {show_key(self.week_start)} is "
                                 "not a day of the week",
                                 hint="Use one of " + ", ".join(_WEEKDAYS) + ".")
        object.__setattr__(self, "week_start", self.week_start.lower())
        super().__post_init__()

    @cached_property
    def _weekday(self) -> int:
        return _WEEKDAYS.index(self.week_start)

    def describe(self) -> str:
        text = super().describe()
        return text if self.week_start == "monday" else f"{text}, weeks start on {self.week_start}"

    def _identity(self) -> tuple[object, ...]:
        return (*super()._identity(), self.week_start)

    def _parse(self, key: str) -> int:
        day = _parse_date(self, key, "2025-01-13")
        if day.weekday() != self._weekday:
            first = day - timedelta(days=(day.weekday() - self._weekday) % 7)
            name = self.week_start.capitalize()
            raise PartitionError(f"weekly partition key {key} is not a {name}",
                                 hint=f"Weeks start on {name} and are named by it: the week "
                                      f"containing {key} is {first.isoformat()}.")
        # Ordinal 1 (0001-01-01) is a Monday; slot n starts on ordinal 7n + 1 + weekday.
        return (day.toordinal() - 1 - self._weekday) // 7

    def _format(self, slot: int) -> str:
        return date.fromordinal(slot * 7 + 1 + self._weekday).isoformat()

    def _slot_start(self, slot: int) -> datetime:
        return datetime.fromordinal(slot * 7 + 1 + self._weekday)

    def _slot_of_wall(self, wall: datetime) -> int:
        return (wall.toordinal() - 1 - self._weekday) // 7


class MonthlyPartitions(TimeWindowPartitions):
    """One partition per calendar month; key `2025-01`.

    Example:
        `MonthlyPartitions(start="2025-01")`
    """

    kind: ClassVar[str] = "monthly"
    key_format: ClassVar[str] = "YYYY-MM"
    _rank: ClassVar[int] = 3

    def _parse(self, key: str) -> int:
        match = _MONTH.fullmatch(key) if isinstance(key, str) else None
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise _bad_key(self, key, "2025-01")
        return int(match[1]) * 12 + int(match[2]) - 1

    def _format(self, slot: int) -> str:
        return f"{slot // 12:04d}-{slot % 12 + 1:02d}"

    def _slot_start(self, slot: int) -> datetime:
        return datetime(slot // 12, slot % 12 + 1, 1)

    def _slot_of_wall(self, wall: datetime) -> int:
        return wall.year * 12 + wall.month - 1


class HourlyPartitions(TimeWindowPartitions):
    """One partition per wall-clock hour of the time zone; key `2025-01-15T03:00`.

    Daylight saving time (keys are local wall-clock hours, never UTC offsets):

    - an hour exists when any minute of it exists. An hour the clock skips entirely
      (Europe/Berlin 2026-03-29 02:00) has no key; that day has 23 keys and `validate_key`
      refuses the skipped hour, saying why. An hour the clock skips only in part
      (Australia/Lord_Howe 2025-10-05 02:00, when clocks go from 02:00 to 02:30) has a key whose
      window is the part that exists (02:30 to 03:00);
    - a window that would start in a gap starts where the gap ends: America/Santiago skips
      2025-09-07 00:00 to 01:00, so that day and its first hour start at 01:00, and the day
      has 23 hourly keys from `T01:00`;
    - an hour the clock repeats (Europe/Berlin 2026-10-25 02:00) has one key whose window
      covers both passes, so it lasts two hours; that day has 24 keys and lasts 25 hours.

    Every hour therefore lies in exactly one local day, and the keys of a day sort in time.
    The storage path of a key writes the `:` as `-` (`2025-01-15T03-00`), because Windows,
    Hadoop and Spark refuse `:` in file names.

    Example:
        `HourlyPartitions(start="2025-01-01T00:00", timezone="Europe/Berlin")`
    """

    kind: ClassVar[str] = "hourly"
    key_format: ClassVar[str] = "YYYY-MM-DDTHH:00"
    _rank: ClassVar[int] = 0
    _nested: ClassVar[bool] = True

    def _parse(self, key: str) -> int:
        if not isinstance(key, str) or _HOUR.fullmatch(key) is None or key[11:13] > "23":
            raise _bad_key(self, key, "2025-01-15T03:00")
        try:
            day = date.fromisoformat(key[:10])  # the pattern above already pinned the form
        except ValueError as err:
            raise _bad_key(self, key, "2025-01-15T03:00") from err
        slot = day.toordinal() * 24 + int(key[11:13])
        if not self._exists(slot):
            raise PartitionError(f"hourly partition key {key} does not exist in {self.timezone}: "
                                 "the clock skips that hour (daylight saving time)",
                                 hint=f"Use {self._format(self._prev(slot))} or "
                                      f"{self._format(self._next(slot))}.")
        return slot

    def _format(self, slot: int) -> str:
        return date.fromordinal(slot // 24).isoformat() + _HOUR_SUFFIXES[slot % 24]

    def _slot_start(self, slot: int) -> datetime:
        return datetime.fromordinal(slot // 24).replace(hour=slot % 24)

    def _slot_of_wall(self, wall: datetime) -> int:
        slot = wall.toordinal() * 24 + wall.hour
        while not self._exists(slot):  # a wall time the clock skips happens after the gap
            slot += 1
        return slot

    def _exists(self, slot: int) -> bool:
        return self._fixed or slot not in skipped_hours(self.timezone, slot // (24 * BLOCK_DAYS))

    def _next(self, slot: int) -> int:
        slot += 1
        while not self._exists(slot):
            slot += 1
        return slot

    def _prev(self, slot: int) -> int:
        slot -= 1
        while not self._exists(slot):
            slot -= 1
        return slot

    def _shift(self, slot: int, windows: int) -> int:
        if windows == 0 or self._fixed:
            return slot + windows
        # Jump, then jump again by the number of skipped hours passed over; skipped hours are
        # rare, so this loops once or twice instead of stepping hour by hour.
        step, remaining, position = (1 if windows > 0 else -1), abs(windows), slot
        while remaining:
            target = position + step * remaining
            low, high = (position + 1, target) if step > 0 else (target, position - 1)
            remaining = self._count_skipped(low, high)
            position = target
        return position

    def _count_skipped(self, low: int, high: int) -> int:
        block_hours = 24 * BLOCK_DAYS
        count = 0
        for block in range(low // block_hours, high // block_hours + 1):
            skipped = skipped_hours(self.timezone, block)
            count += bisect_right(skipped, high) - bisect_left(skipped, low)
        return count

    def _slots_between(self, first: int, last: int) -> range | list[int]:
        return [slot for slot in range(first, last + 1) if self._exists(slot)]

    def _table_entries(self, low: int, high: int) -> list[str | None]:
        entries: list[str | None] = []
        for day in range(low // 24, (high - 1) // 24 + 1):
            prefix = date.fromordinal(day).isoformat()  # once per day, not per hour
            entries.extend(prefix + _HOUR_SUFFIXES[slot % 24] if self._exists(slot) else None
                           for slot in range(max(low, day * 24), min(high, day * 24 + 24)))
        return entries

    def path_for(self, key: str) -> str:
        return self.validate_key(key, check_range=False).replace(":", "-")

    def key_from_path(self, path: str) -> str:
        if not isinstance(path, str) or not _HOUR_PATH.fullmatch(path):
            raise PartitionError(f"hourly partition path {show_key(path)} is not valid: "
                                 "expected YYYY-MM-DDTHH-00",
                                 hint="Hourly partitions are stored as e.g. 2025-01-15T03-00.")
        return self.validate_key(path[:13] + ":" + path[14:], check_range=False)

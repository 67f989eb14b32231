"""Time-window partitions: the shared machinery behind hourly, daily, weekly and monthly keys.

Windows are computed on the wall clock of the definition's time zone. Internally every window is
a *slot*, an integer that grows by one per window (days since year 1, hours since year 1 on the
wall clock, weeks, months), so key generation, shifting and range checks are integer arithmetic
and no datetime is parsed per key in hot paths. Keys have a fixed width, so comparing them as
strings compares them in time.

Daylight saving time: a day, week or month starts at local midnight and lasts as long as the wall
clock says (a Europe/Berlin day is 23 hours long on the spring change and 25 hours on the autumn
change). Hourly keys are local wall-clock hours; see `HourlyPartitions` for the missing and the
repeated hour.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import ClassVar
from zoneinfo import ZoneInfo

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions.clock_gaps import gap_end
from flowstone_cli.partitions.definitions import (
    MEMO_LIMIT,
    DynamicKeys,
    PartitionsDefinition,
)
from flowstone_cli.partitions.time_inputs import load_zone, parse_bound

# Zones known to have no offset changes: their wall clock never needs a round trip through UTC.
_FIXED_ZONES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Zulu", "Etc/Zulu"})
# Most slots a definition's key table holds (about 1,400 years of days or 60 years of hours);
# keys beyond it are formatted each time they are asked for.
_TABLE_LIMIT = 1 << 19


@dataclass(frozen=True)
class TimeWindowPartitions(PartitionsDefinition):
    """Common base of hourly, daily, weekly and monthly partitions.

    Args:
        start: the first window is the first whole window that starts at or after `start`
            (a date, a datetime or an ISO string; naive values are wall-clock times in
            `timezone`). `start` and `end` keep the values given; `first_key` and `last_key`
            name the first and the last window.
        end: windows must end at or before `end`; a window that `end` cuts is left out. `None`
            (the default) means open-ended: `keys()` then lists every window complete at `now`.
        timezone: IANA time zone name in which windows are computed (default `UTC`).

    `validate_key` checks a key against `start` and `end` only; it does not look at the clock,
    so the current, incomplete window is a valid key. `keys()` and `latest_complete_key()` list
    only complete windows.
    """

    start: date | datetime | str
    end: date | datetime | str | None = None
    timezone: str = "UTC"

    kind: ClassVar[str] = "time"
    key_format: ClassVar[str] = ""
    # Granularities by size; `_nested`: each window lies inside one window of every coarser
    # granularity (true for hours and days; a week can straddle two months).
    _rank: ClassVar[int] = 0
    _nested: ClassVar[bool] = False

    def __post_init__(self) -> None:
        owner = type(self).__name__
        load_zone(self.timezone, owner)
        first, stop = self._bounds
        if stop is not None and stop <= first:
            raise PartitionError(f"{owner}: no complete {self.kind} window between start "
                                 f"{self.start} and end {self.end}",
                                 hint="Move the end at least one whole window after the start.")

    @cached_property
    def _bounds(self) -> tuple[int, int | None]:
        """Slot of the first window and of the first window left out by `end` (None: open).

        `start` and `end` stay as given (a date, a datetime or a string); these slots are what
        every range check uses. Computed again after unpickling, like every `_` cache.
        """
        owner = type(self).__name__
        start_wall = self._wall_of(parse_bound(self.start, "start", owner))
        first = self._slot_of_wall(start_wall)
        if self._instant(self._slot_start(first)) < self._instant(start_wall):
            first = self._next(first)  # only whole windows: round a mid-window start up
        if self.end is None:
            return first, None
        end_wall = self._wall_of(parse_bound(self.end, "end", owner))
        if end_wall <= start_wall:
            raise PartitionError(f"{owner}: start {self.start} is not before end {self.end}",
                                 hint="Give an end after the start, or leave end out.")
        return first, self._slot_of_wall(end_wall)

    @property
    def first_key(self) -> str:
        """Key of the first window (the first whole window at or after `start`)."""
        return self._format(self._first_slot)

    @property
    def last_key(self) -> str | None:
        """Key of the last window before `end`, or None when the definition is open-ended."""
        return self._last_key() or None

    def _identity(self) -> tuple[object, ...]:
        return (type(self), self.timezone, self._first_slot, self._end_slot)

    def __eq__(self, other: object) -> bool:
        # Equal when the windows are: `start="2025-01-01"` and `start=date(2025, 1, 1)` agree.
        if not isinstance(other, TimeWindowPartitions):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    # -- per-granularity slot arithmetic (implemented by the subclasses) -----------------------

    @abstractmethod
    def _parse(self, key: str) -> int:
        """The slot of a key in canonical form; `PartitionError` naming `key_format` otherwise."""

    @abstractmethod
    def _format(self, slot: int) -> str:
        """The key of a slot."""

    @abstractmethod
    def _slot_start(self, slot: int) -> datetime:
        """Naive wall-clock start of a slot's window."""

    @abstractmethod
    def _slot_of_wall(self, wall: datetime) -> int:
        """The existing slot whose window contains the naive wall-clock time `wall`."""

    def _exists(self, slot: int) -> bool:
        return True

    def _nests_in(self, other: TimeWindowPartitions) -> bool:
        """True when each of this granularity's windows lies inside one window of `other`
        (for the same time zone)."""
        return self._nested and self._rank < other._rank

    def _next(self, slot: int) -> int:
        return slot + 1

    def _prev(self, slot: int) -> int:
        return slot - 1

    def _shift(self, slot: int, windows: int) -> int:
        """The slot `windows` windows after (negative: before) `slot`."""
        return slot + windows

    def _table_entries(self, low: int, high: int) -> list[str | None]:
        """Keys of slots `low` to `high` (excluded), None where a slot does not exist."""
        return [self._format(slot) for slot in range(low, high)]

    # -- the key table: planning asks for the same keys over and over --------------------------

    @cached_property
    def _slot_memo(self) -> dict[str, int]:
        return {}

    def _slot(self, key: str) -> int:
        """`_parse` with a memo of keys already parsed (or listed by the key table)."""
        memo = self._slot_memo
        if type(key) is str and key in memo:
            return memo[key]
        slot = self._parse(key)
        if len(memo) < MEMO_LIMIT:
            memo[key] = slot
        return slot

    def _table_upto(self, high: int) -> list[str | None]:
        """The key table (keys of the slots from the first one on) covering slots below `high`.

        It grows geometrically, so walking forward does not rebuild it for every key. Growing
        replaces the list instead of extending it, so a reader never sees it half-built.
        """
        table: list[str | None] = self.__dict__.get("_table", [])
        first = self._first_slot
        covered = first + len(table)
        if covered < high:
            grown = min(max(high, first + 2 * len(table)), first + _TABLE_LIMIT)
            added = self._table_entries(covered, grown)
            memo = self._slot_memo
            if len(memo) < MEMO_LIMIT:
                memo.update((key, slot) for slot, key in enumerate(added, covered) if key)
            table = table + added
            self.__dict__["_table"] = table  # a cache, not state: frozen-ness is not at stake
        return table

    def _range_keys(self, low: int, high: int) -> list[str]:
        """Keys of the existing slots from `low` to `high` (excluded) inside start/end."""
        first, end = self._first_slot, self._end_slot
        low = max(low, first)
        high = high if end is None else min(high, end)
        if low >= high:
            return []
        if high - first > _TABLE_LIMIT:
            entries = self._table_entries(low, high)
        else:
            entries = self._table_upto(high)[low - first:high - first]
        return [key for key in entries if key is not None]

    def _key(self, slot: int) -> str:
        """`_format`, answered from the key table when it covers `slot`."""
        index = slot - self._first_slot
        table: list[str | None] = self.__dict__.get("_table", [])
        entry = table[index] if 0 <= index < len(table) else None
        return entry if entry is not None else self._format(slot)

    # -- time zone helpers ---------------------------------------------------------------------

    @cached_property
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _fixed(self) -> bool:
        return self.timezone in _FIXED_ZONES

    @property
    def _first_slot(self) -> int:
        return self._bounds[0]

    @property
    def _end_slot(self) -> int | None:
        return self._bounds[1]

    def _normalize(self, wall: datetime) -> datetime:
        """A naive wall time that the clock skips becomes the first wall time after the gap
        (Europe/Berlin 2026-03-29 02:30 becomes 03:00): what is skipped happens after it."""
        if self._fixed:
            return wall
        aware = wall.replace(tzinfo=self._tz, fold=0).astimezone(UTC).astimezone(self._tz)
        if aware.replace(tzinfo=None) == wall:
            return wall
        return gap_end(self._tz, wall).astimezone(self._tz).replace(tzinfo=None)

    def _wall_of(self, moment: datetime) -> datetime:
        """Naive wall-clock time in this zone; naive input already is one."""
        if moment.tzinfo is None:
            return self._normalize(moment)
        return moment.astimezone(self._tz).replace(tzinfo=None)

    def _instant(self, wall: datetime) -> datetime:
        """Aware datetime in this zone for a wall time; a repeated time means its first pass and
        a skipped time the end of the gap (so a window that starts in a gap starts after it)."""
        aware = wall.replace(tzinfo=self._tz, fold=0)
        if self._fixed:
            return aware
        back = aware.astimezone(UTC).astimezone(self._tz)
        if back.replace(tzinfo=None) == wall:
            return back
        return gap_end(self._tz, wall).astimezone(self._tz)

    def _in_range(self, slot: int) -> bool:
        end = self._end_slot
        return slot >= self._first_slot and (end is None or slot < end)

    def _stop_slot(self, now: datetime | None) -> int:
        """First slot that is not complete at `now` (or is past `end`)."""
        moment = datetime.now(UTC) if now is None else now
        current = self._slot_of_wall(self._wall_of(moment))
        end = self._end_slot
        return current if end is None else min(current, end)

    # -- public API ----------------------------------------------------------------------------

    def keys(self, *, now: datetime | None = None,
             dynamic_keys: DynamicKeys | None = None) -> list[str]:
        """Keys of every window from `start` that is complete at `now` (default: current time)
        and ends at or before `end`."""
        return self._range_keys(self._first_slot, self._stop_slot(now))

    def validate_key(self, key: str, *, dynamic_keys: DynamicKeys | None = None,
                     check_range: bool = True) -> str:
        slot = self._slot(key)
        if check_range and not self._in_range(slot):
            last = "" if self.end is None else f" to {self._last_key()}"
            raise PartitionError(f"partition key {key} is out of range: {self.kind} partitions "
                                 f"run from {self.first_key}{last} ({self.timezone})",
                                 hint=f"Use a key from {self.first_key}{last}.")
        return key

    def key_range(self, start_key: str, end_key: str, *,
                  dynamic_keys: DynamicKeys | None = None) -> list[str]:
        first = self._slot(self.validate_key(start_key))
        last = self._slot(self.validate_key(end_key))
        if first > last:
            raise PartitionError(f"partition range {start_key}..{end_key} is backwards",
                                 hint=f"Write {end_key}..{start_key}.")
        return self._range_keys(first, last + 1)

    def window(self, key: str) -> tuple[datetime, datetime]:
        """Start (included) and end (excluded) of the window of `key`, as aware datetimes in the
        definition's zone. Subtract them after `.astimezone(UTC)` to get the real duration:
        Python ignores offsets when subtracting two datetimes of the same zone."""
        slot = self._slot(key)
        return (self._instant(self._slot_start(slot)),
                self._instant(self._slot_start(self._next(slot))))

    def key_for_time(self, moment: datetime) -> str:
        """Key of the window containing `moment` (naive: wall clock of the definition's zone).
        The key may lie outside `start`/`end`; check it with `validate_key`."""
        return self._format(self._slot_of_wall(self._wall_of(moment)))

    def latest_complete_key(self, now: datetime | None = None) -> str | None:
        """Key of the last window complete at `now` within the range, or None if there is none."""
        stop = self._stop_slot(now)
        return self._format(self._prev(stop)) if stop > self._first_slot else None

    def shift_key(self, key: str, windows: int) -> str:
        """The key `windows` windows after (negative: before) `key`; no range check."""
        return self._key(self._shift(self._slot(key), windows))

    def path_for(self, key: str) -> str:
        return self.validate_key(key, check_range=False)

    def key_from_path(self, path: str) -> str:
        return self.validate_key(path, check_range=False)

    def describe(self) -> str:
        until = "" if self.end is None else f" to {self._last_key()}"
        return f"{self.kind} from {self.first_key}{until} ({self.timezone})"

    def _last_key(self) -> str:
        end = self._end_slot
        return self._format(self._prev(end)) if end is not None else ""

    # -- overlap of windows, used by the time mappings -----------------------------------------

    def _span(self, first: int, last: int) -> tuple[datetime, datetime]:
        """Wall-clock start of `first` and end of `last` (the union of their windows)."""
        return self._slot_start(first), self._slot_start(self._next(last))

    def _instant_span(self, first: int, last: int) -> tuple[datetime, datetime]:
        """`_span` as UTC instants."""
        start, end = self._span(first, last)
        return self._instant(start).astimezone(UTC), self._instant(end).astimezone(UTC)

    def _slot_at(self, instant: datetime) -> int:
        """The slot whose window contains the aware `instant`."""
        return self._slot_of_wall(self._wall_of(instant))

    def _slot_before(self, wall: datetime) -> int:
        """The last slot whose window starts before the wall-clock time `wall`."""
        slot = self._slot_of_wall(wall)
        return slot if self._slot_start(slot) < wall else self._prev(slot)

    def _slots_overlapping(self, wall_start: datetime, wall_end: datetime) -> range | list[int]:
        """Slots whose windows overlap the wall-clock interval [wall_start, wall_end)."""
        return self._slots_between(self._slot_of_wall(wall_start), self._slot_before(wall_end))

    def _slots_between(self, first: int, last: int) -> range | list[int]:
        """Existing slots from `first` to `last`, both included (a range when none is skipped,
        which lets callers slice the key table)."""
        return range(first, last + 1)


"""Cron expressions: validation, DST-correct fire times and the fire times a tick should launch.

A schedule is a 5-field cron expression (or an alias such as `@daily`) read in an IANA time zone.
Fire times are computed by croniter in that zone, so daylight saving time behaves exactly as
croniter does it, and are identified by their UTC instant: every function here takes and returns
aware datetimes and dedupes by instant. What croniter 7 does in Europe/Berlin:

- spring forward (2026-03-29): `30 2 * * *` fires once, at 03:00+02:00 (the skipped 02:30 moves to
  the end of the gap); `0 * * * *` fires 23 times (no 02:00).
- fall back (2026-10-25): `30 2 * * *` fires twice, 02:30+02:00 and 02:30+01:00; `0 * * * *` fires
  25 times (02:00 twice).

croniter is imported inside the functions that need it: importing this module (which every CLI
start-up does through the schedule definitions) stays cheap.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowstone_cli.timing.catch_up import CatchUp, DueTicks, recent_needed, select_due
from flowstone_cli.errors import UsageError

__all__ = ["CatchUp", "DueTicks", "check_schedule", "count_fire_times", "due_ticks", "fire_times",
           "latest_fire_times", "next_fire_time", "preview", "previous_fire_time",
           "validate_cron", "validate_timezone"]

_ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
            "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
            "@hourly": "0 * * * *"}
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIVE = "FlowStone schedules take 5 fields (minute hour day month weekday)"
# A lone H or R (not the letter inside `mar` or `thu`): croniter's hashed and random values.
_HASHED = re.compile(r"(?<![a-z])[hr](?![a-z])")
# Fixed so validation is reproducible; 5 years covers every leap-day-only expression.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
# Counting samples the UTC offset this often; two offset changes closer together than this would
# be missed (no zone in the tz database has them since the 1940s).
_SAMPLE = timedelta(hours=12)
# Around an offset change fire times are enumerated with croniter itself (it moves skipped times
# and repeats doubled ones); elsewhere they are counted arithmetically. The margin is this plus the
# size of the jump; tests compare both ways across many zones.
_MARGIN = timedelta(minutes=30)


def validate_cron(expression: str) -> str | None:
    """Check a cron expression without raising.

    Returns:
        None if `expression` is 5 fields or an alias (@yearly @annually @monthly @weekly @daily
        @midnight @hourly) that fires at least once in 5 years, else a one-line problem.
    """
    text = expression.strip()
    if not text:
        return f"the expression is empty; {_FIVE}"
    if text.startswith("@"):
        if text.lower() == "@reboot":
            return "@reboot has no fire time; use a 5-field expression"
        if text.lower() not in _ALIASES:
            return f"unknown alias {text}; use one of {', '.join(_ALIASES)}"
        return None
    fields = text.split()
    if len(fields) == 6:
        return f"6 fields: {_FIVE}; seconds are not supported"
    if len(fields) == 7:
        return f"7 fields: {_FIVE}; seconds and years are not supported"
    if len(fields) != 5:
        return f"{len(fields)} field{'s' if len(fields) > 1 else ''}: {_FIVE}"
    for name, field in zip(_FIELD_NAMES, fields, strict=True):
        for part in field.split(","):
            step = part.partition("/")[2]
            if step.isdigit() and int(step) == 0:
                return f"step of 0 in the {name} field {field!r}: a step must be at least 1"
        if _HASHED.search(field.lower()):
            return (f"{field!r} in the {name} field is a hashed (H) or random (R) value; "
                    "fire times must be the same on every tick")
    from croniter import CroniterBadDateError, croniter  # lazy: start-up speed

    try:
        croniter(text, _REFERENCE, max_years_between_matches=5).get_next(datetime)
    except CroniterBadDateError:
        return "never fires (e.g. February 31st)"
    except (ValueError, KeyError, TypeError, IndexError) as err:  # CroniterError is a ValueError
        return f"not a valid cron expression: {err}"
    return None


def validate_timezone(name: str) -> str | None:
    """None if `name` is an IANA time zone zoneinfo knows, else a one-line problem."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return f"unknown time zone {name!r}"
    return None


def check_schedule(expression: str, timezone: str) -> None:
    """Validate a schedule's expression and time zone (call it when the project loads).

    Raises:
        UsageError: for the first problem found, with a hint saying how to write it.
    """
    problem = validate_cron(expression)
    if problem is not None:
        raise UsageError(f"cron expression {expression!r}: {problem}",
                         hint="Write minute hour day-of-month month day-of-week, e.g. "
                              "'0 2 * * *', or an alias such as @daily.")
    problem = validate_timezone(timezone)
    if problem is not None:
        raise UsageError(f"schedule time zone: {problem}",
                         hint="Use an IANA name such as 'UTC' or 'Europe/Berlin'.")


@lru_cache(maxsize=256)
def _normalize(expression: str) -> str:
    problem = validate_cron(expression)
    if problem is not None:
        raise UsageError(f"cron expression {expression!r}: {problem}",
                         hint="Run `flowstone check` to validate every schedule.")
    text = expression.strip()
    return _ALIASES.get(text.lower(), text) if text.startswith("@") else " ".join(text.split())


def _zone(timezone: str) -> ZoneInfo:
    problem = validate_timezone(timezone)
    if problem is not None:
        raise UsageError(f"schedule time zone: {problem}",
                         hint="Use an IANA name such as 'UTC' or 'Europe/Berlin'.")
    return ZoneInfo(timezone)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _floor_minute(value: datetime) -> datetime:
    # Fire times are whole minutes, so any window bound may be floored without changing results.
    return value.replace(second=0, microsecond=0)


def _walk(expression: str, zone: ZoneInfo, start: datetime, *,
          backwards: bool) -> Iterator[datetime]:
    """UTC fire times strictly after (or before) `start`, one per instant, in order."""
    from croniter import CroniterBadDateError, croniter  # lazy: start-up speed

    it = croniter(_normalize(expression), start.astimezone(zone))
    step = it.get_prev if backwards else it.get_next
    last, stalled = start, 0
    while stalled < 100:  # croniter repeating itself forever must not hang a tick
        try:
            found = step(datetime).astimezone(UTC)
        except CroniterBadDateError:  # no fire time within croniter's search horizon
            return
        if (found < last) if backwards else (found > last):  # dedupe: one tick per UTC instant
            last, stalled = found, 0
            yield found
        else:
            stalled += 1


def fire_times(expression: str, timezone: str, *, after: datetime, until: datetime,
               limit: int | None = None) -> list[datetime]:
    """Fire times `t` with `after < t <= until`, as aware UTC datetimes, ascending.

    Args:
        limit: return at most this many, the earliest ones (see `latest_fire_times`).

    Raises:
        ValueError: `after` or `until` is naive.
        UsageError: the expression or time zone is invalid.
    """
    start, end = _floor_minute(_utc(after, "after")), _utc(until, "until")
    found: list[datetime] = []
    for t in _walk(expression, _zone(timezone), start, backwards=False):
        if t > end or (limit is not None and len(found) >= limit):
            break
        found.append(t)
    return found


def latest_fire_times(expression: str, timezone: str, *, after: datetime | None, until: datetime,
                      count: int) -> list[datetime]:
    """The most recent `count` fire times in `(after, until]` (unbounded below if `after` is None),
    ascending. Walks backwards from `until`, so a years-long window costs `count` steps."""
    floor = None if after is None else _utc(after, "after")
    start = _floor_minute(_utc(until, "until")) + _MINUTE
    found: list[datetime] = []
    for t in islice(_walk(expression, _zone(timezone), start, backwards=True), max(count, 0)):
        if floor is not None and t <= floor:
            break
        found.append(t)
    return found[::-1]


def previous_fire_time(expression: str, timezone: str, *, at: datetime) -> datetime | None:
    """The latest fire time at or before `at` (UTC), or None if croniter finds none."""
    found = latest_fire_times(expression, timezone, after=None, until=at, count=1)
    return found[0] if found else None


def next_fire_time(expression: str, timezone: str, *, after: datetime) -> datetime:
    """The first fire time strictly after `after`, as an aware UTC datetime."""
    start = _floor_minute(_utc(after, "after"))
    for t in _walk(expression, _zone(timezone), start, backwards=False):
        return t
    raise UsageError(f"cron expression {expression!r} has no fire time after {after.isoformat()}",
                     hint="Check the day-of-month and month fields.")


def preview(expression: str, timezone: str, *, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after `start`, as aware datetimes in the schedule's time zone
    (what `flowstone schedules preview` prints)."""
    zone = _zone(timezone)
    walk = _walk(expression, zone, _floor_minute(_utc(start, "start")), backwards=False)
    return [t.astimezone(zone) for t in islice(walk, max(count, 0))]


def count_fire_times(expression: str, timezone: str, *, after: datetime, until: datetime) -> int:
    """How many fire times `fire_times` would return for `(after, until]`, without listing them.

    Equal to `len(fire_times(...))`: stretches of constant UTC offset are counted arithmetically
    (matching days times matching minutes of the day), and a few hours around each offset change
    are enumerated with croniter so its DST handling is reproduced exactly. A 30-day `* * * * *`
    window costs ~1 ms, plus ~15 ms per offset change inside it, instead of 43,200 croniter steps
    (~1.2 s). Two offset changes less than 12 hours apart would be miscounted (none since 1950).
    """
    text, zone = _normalize(expression), _zone(timezone)
    start, end = _floor_minute(_utc(after, "after")), _utc(until, "until")
    total, cursor = 0, start
    for low, high in _changes(zone, start, end):
        total += _count_steady(text, zone, cursor, low)
        total += len(fire_times(text, timezone, after=low, until=high))
        cursor = high
    return total + _count_steady(text, zone, cursor, end)


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def _changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Disjoint `(low, high)` spans inside `(start, end)` around each UTC offset change."""
    spans: list[tuple[datetime, datetime]] = []
    probe, before = start - timedelta(days=1), _offset(zone, start - timedelta(days=1))
    while probe < end + timedelta(days=1):
        nxt = probe + _SAMPLE
        after = _offset(zone, nxt)
        if after != before:
            low, high = probe, nxt  # bisect to the second the offset changes
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if _offset(zone, mid) == before else (low, mid)
            margin = _MARGIN + abs(after - before)
            span = (max(_floor_minute(high - margin), start),
                    min(_floor_minute(high + margin), end))
            if span[0] < span[1]:
                if spans and spans[-1][1] >= span[0]:
                    span = (spans.pop()[0], span[1])
                spans.append(span)
        probe, before = nxt, after
    return spans


def _count_steady(text: str, zone: ZoneInfo, start: datetime, end: datetime) -> int:
    """Fire times in `(start, end]`, a span with one UTC offset, counted on the local wall clock."""
    if end <= start:
        return 0
    offset = _offset(zone, start)
    low, high = (start + offset).replace(tzinfo=None), (end + offset).replace(tzinfo=None)
    minutes = _minutes_of_day(text)
    total = 0
    for day in _matching_days(text, low.date(), high.date()):
        midnight = datetime.combine(day, time())
        first = max((low - midnight) // _MINUTE + 1, 0)  # strictly after `low`
        last = min((high - midnight) // _MINUTE, 1439)
        if last >= first:
            total += bisect_right(minutes, last) - bisect_left(minutes, first)
    return total


@lru_cache(maxsize=256)
def _minutes_of_day(text: str) -> list[int]:
    """The sorted minutes after midnight at which `text` fires on a matching day."""
    from croniter import croniter  # lazy: start-up speed

    minute, hour = croniter(text).expanded[:2]
    hours = range(24) if hour == ["*"] else hour
    mins = range(60) if minute == ["*"] else minute
    return sorted(h * 60 + m for h in hours for m in mins)


def _matching_days(text: str, first: date, last: date) -> Iterator[date]:
    """The local dates in `[first, last]` whose day-of-month, month and weekday match."""
    day_fields = text.split()[2:]
    if day_fields == ["*", "*", "*"]:
        for n in range((last - first).days + 1):
            yield first + timedelta(days=n)
        return
    from croniter import CroniterBadDateError, croniter  # lazy: start-up speed

    # The same day fields at a fixed 00:00, walked on naive dates so no DST can interfere.
    it = croniter("0 0 " + " ".join(day_fields), datetime.combine(first, time()) - _MINUTE)
    while True:
        try:
            day = it.get_next(datetime).date()
        except CroniterBadDateError:
            return
        if day > last:
            return
        yield day


def due_ticks(expression: str, timezone: str, *, last_tick: datetime | None, now: datetime,
              catch_up: CatchUp | str = "latest", max_catch_up: int = 24,
              grace: timedelta = timedelta(minutes=2),
              first_seen: datetime | None = None) -> DueTicks:
    """The fire times `flowstone tick` should launch now for one schedule, and how many it skips.

    The window is `(start, now]`: `start` is `last_tick` (the latest fire time already recorded)
    if given, else `first_seen`, else `now - grace` (no history never invents a backlog). A fire
    time `t` is on time when `now - t <= grace`; every fire time in the window not launched is
    missed:

    | `catch_up`         | launched now                                          | missed         |
    |--------------------|-------------------------------------------------------|----------------|
    | `latest` (default) | the most recent fire time in the window, even if late | all the others |
    | `all`              | the most recent `max_catch_up`, ascending             | the older ones |
    | `none`             | the most recent fire time if it is on time, else none | all the others |

    Fire times at or before `last_tick` are never returned, so a second call with the same `now`
    and `last_tick` = the launched time returns nothing. Launched times are found walking backwards
    from `now` and the rest are counted with `count_fire_times`, so a `* * * * *` schedule untouched
    for 30 days costs milliseconds.

    Raises:
        ValueError: a datetime is naive, or `grace` is negative.
        UsageError: invalid expression, time zone, policy or `max_catch_up` < 1.
    """
    policy = CatchUp.parse(catch_up)
    if max_catch_up < 1:
        raise UsageError(f"max_catch_up must be at least 1, got {max_catch_up}",
                         hint="Use catch_up = \"none\" to skip missed fire times instead.")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    end = _utc(now, "now")
    if last_tick is not None:
        start = _utc(last_tick, "last_tick")
    elif first_seen is not None:
        start = _utc(first_seen, "first_seen")
    else:
        start = end - grace
    if start >= end:
        return DueTicks(fire_times=(), missed=0)
    recent = latest_fire_times(expression, timezone, after=start, until=end,
                               count=recent_needed(policy, max_catch_up))
    total = count_fire_times(expression, timezone, after=start, until=end) if recent else 0
    return select_due(policy, recent=recent, total=total, now=end, grace=grace,
                      max_catch_up=max_catch_up)

"""Schedules and sensors: definitions evaluated by `flowstone tick`, and what they return.

Two forms of schedule:

    nightly = schedule(name="nightly", cron="0 2 * * *", target="+daily_report",
                       partition="latest", timezone="Europe/Berlin")

    @schedule(cron="0 * * * *", target="hourly_rollup")
    def hourly(context):            # context.scheduled_time is the fire time
        return context.scheduled_time.strftime("%Y-%m-%dT%H:00")   # a key, keys, None, SkipReason

Sensors are functions `(context) -> RunRequest | [RunRequest] | SkipReason | None` evaluated
every `interval`; `context.cursor` / `context.update_cursor(...)` keep their state between ticks.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flowstone_cli.errors import DefinitionError, Problem, UsageError


@dataclass(frozen=True)
class RunRequest:
    """A run a sensor asks for.

    Attributes:
        partition: the partition key to materialize (None for unpartitioned targets).
        run_key: an id for the request: a run_key is launched at most once, ever.
        tags: extra run tags.
    """

    partition: str | None = None
    run_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SkipReason:
    """Returned by a schedule or sensor function to say why nothing runs this time."""

    text: str = ""


def _location(fn: Callable[..., Any] | None) -> tuple[str, int]:
    code = getattr(fn, "__code__", None)
    if code is not None:
        return code.co_filename, code.co_firstlineno
    return caller_location(3)


def caller_location(depth: int) -> tuple[str, int]:
    """File and line `depth` frames up (cheap: no source lines are read, unlike
    `inspect.stack()`)."""
    try:
        frame = sys._getframe(depth)  # noqa: SLF001 - the documented fast way
    except ValueError:
        return "", 0
    return frame.f_code.co_filename, frame.f_lineno


@dataclass(frozen=True)
class ScheduleSpec:
    """A cron schedule that launches runs of `target`.

    Attributes:
        name: unique among schedules and sensors.
        cron: a 5-field cron expression or alias (@daily, @hourly...).
        target: a selection string.
        partition: None, "latest" (the newest complete window of the target's time partitions
            at fire time), or a function of the fire time returning a key.
        timezone: IANA time zone the cron expression is read in.
        catch_up: "latest", "all" or "none" (see docs/automation.md).
        max_catch_up: with catch_up="all", at most this many missed ticks are launched.
        fn: for the decorator form, `(context) -> key | [keys] | None | SkipReason`.
        config: run config of the launched runs: `{ASSET: {KEY: VALUE}}`, or `{KEY: VALUE}`
            when only one asset has a config model (JSON-able values).
        file, line: where it is defined.
    """

    name: str
    cron: str
    target: str
    partition: Any = None
    timezone: str = "UTC"
    catch_up: str = "latest"
    max_catch_up: int = 24
    description: str = ""
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    file: str = ""
    line: int = 0
    config: Mapping[str, Any] = field(default_factory=dict, compare=False)

    kind = "schedule"

    @property
    def location(self) -> str:
        """`file:line` of the definition."""
        return f"{self.file}:{self.line}" if self.file else ""

    def fire_times(self, after: datetime, until: datetime, *,
                   limit: int | None = None) -> list[datetime]:
        """When this schedule fires: every fire time `t` with `after < t <= until`, ascending.

        Naive datetimes are wall-clock times in the schedule's `timezone`; the times returned
        are aware, in that zone. A wall time repeated by a daylight saving change fires once per
        real instant (twice), a skipped one once at the end of the gap, exactly as
        `flowstone tick` fires.

        Args:
            limit: at most this many, the earliest ones.

        Raises:
            UsageError: the cron expression or time zone is invalid, or `until` is before
                `after`.
        """
        from flowstone_cli.timing.cron import fire_times  # lazy: keeps `--help` light

        start, end = self._aware(after, "after"), self._aware(until, "until")
        if end < start:
            raise UsageError(f"schedule {self.name}: until {until.isoformat()} is before after "
                             f"{after.isoformat()}", hint="Swap the two times.")
        zone = self._zone()
        return [t.astimezone(zone) for t in fire_times(self.cron, self.timezone, after=start,
                                                        until=end, limit=limit)]

    def next_fire_time(self, after: datetime | None = None) -> datetime:
        """The first fire time strictly after `after` (default: now), aware, in `timezone`.

        Raises:
            UsageError: the expression never fires again (e.g. `0 0 31 2 *`) or is invalid.
        """
        from flowstone_cli.timing.cron import next_fire_time  # lazy: keeps `--help` light

        start = datetime.now(UTC) if after is None else self._aware(after, "after")
        return next_fire_time(self.cron, self.timezone, after=start).astimezone(self._zone())

    def _zone(self) -> ZoneInfo:
        from flowstone_cli.timing.cron import check_schedule

        check_schedule(self.cron, self.timezone)  # UsageError naming the problem
        return ZoneInfo(self.timezone)

    def _aware(self, moment: datetime, what: str) -> datetime:
        if not isinstance(moment, datetime):
            raise UsageError(f"schedule {self.name}: {what} must be a datetime, got "
                             f"{type(moment).__name__}",
                             hint="Pass e.g. datetime(2025, 1, 1, tzinfo=UTC).")
        if moment.tzinfo is None or moment.utcoffset() is None:
            return moment.replace(tzinfo=self._zone())
        return moment

    def __call__(self, fn: Callable[..., Any]) -> ScheduleSpec:
        """The decorator form: attach the function deciding the partitions of each tick."""
        file, line = _location(fn)
        return replace(self, fn=fn, name=self.name or fn.__name__, file=file, line=line,
                       description=self.description or inspect.getdoc(fn) or "")


def schedule(*, cron: str, target: str, name: str = "", partition: Any = None,
             timezone: str = "UTC", catch_up: str = "latest", max_catch_up: int = 24,
             description: str = "", config: Mapping[str, Any] | None = None) -> ScheduleSpec:
    """Declare a schedule (module-level value, or a decorator on a function of `context`)."""
    file, line = caller_location(2)
    return ScheduleSpec(name=name, cron=cron, target=target, partition=partition,
                        timezone=timezone, catch_up=catch_up, max_catch_up=max_catch_up,
                        description=description, file=file, line=line,
                        config=dict(config or {}))


@dataclass(frozen=True)
class SensorSpec:
    """A sensor: a function evaluated every `interval` that may request runs of `target`.

    Attributes:
        name: unique among schedules and sensors.
        target: a selection string.
        interval: minimum time between evaluations, e.g. "30s".
        fn: `(context) -> RunRequest | [RunRequest] | SkipReason | None`.
        description: free text.
        file, line: where it is defined.
    """

    name: str
    target: str
    interval: str = "30s"
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    description: str = ""
    file: str = ""
    line: int = 0

    kind = "sensor"

    @property
    def location(self) -> str:
        """`file:line` of the definition."""
        return f"{self.file}:{self.line}" if self.file else ""

    def evaluate(self, context: SensorContext) -> list[RunRequest | SkipReason]:
        """Call the function and normalise what it returned to a list."""
        if self.fn is None:
            return []
        result = self.fn(context)
        if result is None:
            return []
        if isinstance(result, (RunRequest, SkipReason)):
            return [result]
        if isinstance(result, Iterable) and not isinstance(result, (str, bytes)):
            items = list(result)
            for item in items:
                if not isinstance(item, (RunRequest, SkipReason)):
                    raise DefinitionError([Problem(
                        "bad_sensor_result", f"sensor `{self.name}` returned {item!r}",
                        self.location, "Return RunRequest(...), a list of them, a SkipReason "
                                       "or None.")])
            return items
        raise DefinitionError([Problem("bad_sensor_result", f"sensor `{self.name}` returned "
                                       f"{result!r}", self.location,
                                       "Return RunRequest(...), a list of them, a SkipReason "
                                       "or None.")])


def sensor(*, target: str, interval: str = "30s", name: str = ""
           ) -> Callable[[Callable[..., Any]], SensorSpec]:
    """Declare a sensor on a function of `context`."""

    def decorate(fn: Callable[..., Any]) -> SensorSpec:
        file, line = _location(fn)
        return SensorSpec(name=name or fn.__name__, target=target, interval=interval, fn=fn,
                          description=inspect.getdoc(fn) or "", file=file, line=line)

    return decorate


class SensorContext:
    """What a sensor function receives.

    Attributes:
        sensor: the sensor's name.
        now: the evaluation time (aware UTC; `flowstone tick --now` sets it).
        cursor: the value stored by the last `update_cursor` (None at first).
        last_evaluated: when the sensor was last evaluated (None at first).
        project_root: the project folder (relative paths are relative to it).
    """

    def __init__(self, sensor: str, now: datetime, cursor: str | None,
                 last_evaluated: datetime | None,
                 materializations: Callable[[list[str], datetime | None],
                                            list[dict[str, Any]]] | None = None,
                 project_root: Any = None) -> None:
        self.project_root = project_root
        self.sensor = sensor
        self.now = now
        self.cursor = cursor
        self.last_evaluated = last_evaluated
        self._materializations = materializations
        self.new_cursor: str | None = cursor

    def update_cursor(self, value: str | None) -> None:
        """Remember `value` for the next evaluation (saved when the tick succeeds)."""
        self.new_cursor = None if value is None else str(value)

    def materializations_since(self, assets: list[str], after: datetime | None
                               ) -> list[dict[str, Any]]:
        """Successful materializations of `assets` that ended after `after` (all when None),
        oldest first: dicts of asset, partition, step_id, ended_at."""
        if self._materializations is None:
            return []
        return self._materializations(assets, after)


@dataclass(frozen=True)
class ScheduleContext:
    """What a decorated schedule function receives: `scheduled_time` is the fire time."""

    schedule: str
    scheduled_time: datetime

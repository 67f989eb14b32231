"""`AssetContext`: what an asset function receives as its `context` parameter."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from flowstone_cli.errors import ResourceError

_logger = logging.getLogger("flowstone.user")


class LogLevel(str, Enum):
    """Levels of messages written through `context.log`."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class LogRecord:
    """One message an asset wrote through `context.log`."""

    ts: datetime
    level: LogLevel
    message: str


MAX_LOG_LINES = 1000
"""At most this many `context.log` lines of one step are recorded: the last ones."""

MAX_LOG_CHARS = 4000
"""A longer log message is cut to this many characters."""


def clip(text: str, limit: int) -> str:
    """`text`, cut to about `limit` characters with a note of how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters cut]"


class StepLog:
    """Collects messages from `context.log`; they are recorded as events of the run.

    A flood is capped: only the last `max_lines` messages are kept (each cut to
    `MAX_LOG_CHARS`), and `dropped` counts the others.
    """

    def __init__(self, max_lines: int = MAX_LOG_LINES) -> None:
        self._records: deque[LogRecord] = deque(maxlen=max_lines)
        self.dropped = 0

    @property
    def records(self) -> list[LogRecord]:
        """The kept messages, preceded by a warning when earlier ones were dropped."""
        kept = list(self._records)
        if self.dropped:
            first = kept[0].ts if kept else datetime.now(timezone.utc)
            kept.insert(0, LogRecord(first, LogLevel.WARNING, f"{self.dropped} earlier log "
                                     f"lines of this step were dropped (only the last "
                                     f"{self._records.maxlen} are kept)"))
        return kept

    def _add(self, level: LogLevel, message: object) -> None:
        if len(self._records) == self._records.maxlen:
            self.dropped += 1
        text = clip(str(message), MAX_LOG_CHARS)
        self._records.append(LogRecord(datetime.now(timezone.utc), level, text))
        _logger.log(getattr(logging, level.name), "%s", text)

    def debug(self, message: object) -> None:
        """Record a debug message."""
        self._add(LogLevel.DEBUG, message)

    def info(self, message: object) -> None:
        """Record an informational message."""
        self._add(LogLevel.INFO, message)

    def warning(self, message: object) -> None:
        """Record a warning."""
        self._add(LogLevel.WARNING, message)

    def error(self, message: object) -> None:
        """Record an error message (it does not fail the step by itself)."""
        self._add(LogLevel.ERROR, message)


class Resources:
    """Read-only attribute access to the resources an asset declared in `requires=`."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"resource {name!r} is not available to this asset; declare it "
                             f"with @asset(requires=[{name!r}]) (available: "
                             f"{', '.join(sorted(values)) or 'none'})")

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("context.resources is read-only")

    def __contains__(self, name: object) -> bool:
        return name in object.__getattribute__(self, "_values")

    def __repr__(self) -> str:
        return f"Resources({', '.join(sorted(object.__getattribute__(self, '_values')))})"


@dataclass(frozen=True)
class AssetContext:
    """The context an asset function receives.

    Attributes:
        asset: the asset being computed.
        partition: its partition key, or None when the asset is not partitioned.
        partition_window: for time partitions, the window `(start, end)` as aware datetimes.
        partition_keys: for multi partitions, dimension -> key.
        run_id: the run this step belongs to.
        step_id: the id of this attempt (also the materialization id on success).
        attempt: 1 for the first attempt, 2 for the first retry, ...
        resources: the resources named in `requires=`, as attributes.
        log: write messages here; they are kept with the run (`flowstone runs logs`).
        tags: the run's tags (`--tag KEY=VALUE`).
        code_version: the code version being materialized.
        limits: the project's `[limits.*]` rates for `rate_limit` (set by the runner).
        config: the run's validated config (an instance of the asset's `config=` model), or
            None when the asset declares none.
    """

    asset: str
    partition: str | None = None
    partition_window: tuple[datetime, datetime] | None = None
    partition_keys: Mapping[str, str] = field(default_factory=dict)
    run_id: str = ""
    step_id: str = ""
    attempt: int = 1
    resources: Resources = field(default_factory=lambda: Resources({}))
    log: StepLog = field(default_factory=StepLog)
    tags: Mapping[str, str] = field(default_factory=dict)
    code_version: str = ""
    limits: Any = field(default=None, repr=False, compare=False)
    config: Any = None

    def rate_limit(self, name: str, cost: float = 1) -> float:
        """Wait until `cost` units of the `[limits.NAME]` rate may be used.

        The rate is shared by every worker of every run of the project on this machine.
        Returns the seconds waited.

        Raises:
            ResourceError: no `[limits.NAME]` is configured.
        """
        if self.limits is None:
            raise ResourceError(f"limit `{name}` is not configured",
                                hint=f"Add [limits.{name}] with rate = \"60/minute\" to "
                                     "flowstone.toml.")
        return self.limits.acquire(name, cost)

    @property
    def asset_name(self) -> str:
        """Alias of `asset`."""
        return self.asset

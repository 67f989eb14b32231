"""Typed events the core emits while it works; only the CLI decides how they look.

The coordinator calls an `EventSink` with these records as a run progresses; the CLI renders
them as a live display, plain lines or JSON, and the metadata store keeps them as the run's log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any


class EventKind(str, Enum):
    """What happened."""

    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    STEP_STARTED = "step_started"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    STEP_RETRYING = "step_retrying"
    STEP_SKIPPED = "step_skipped"
    STEP_UP_TO_DATE = "step_up_to_date"
    STEP_CANCELED = "step_canceled"
    STEP_TIMED_OUT = "step_timed_out"
    STEP_WAITING = "step_waiting"
    CHECK_FAILED = "check_failed"
    LOG = "log"


class Level(str, Enum):
    """Severity of an event."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Event:
    """One thing that happened during a run.

    Attributes:
        kind: what happened.
        run_id: the run it belongs to.
        message: a one-line human description.
        asset: the asset concerned, if any.
        partition: the partition concerned, if any.
        step_id: the step attempt concerned, if any.
        level: severity.
        data: extra structured facts (durations, counts, error codes).
        ts: when it happened (UTC).
    """

    kind: EventKind
    run_id: str
    message: str = ""
    asset: str | None = None
    partition: str | None = None
    step_id: str | None = None
    level: Level = Level.INFO
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=_now)

    @property
    def step_label(self) -> str:
        """`asset` or `asset[partition]`."""
        if self.asset is None:
            return ""
        return self.asset if self.partition is None else f"{self.asset}[{self.partition}]"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON logs."""
        return {"ts": self.ts.isoformat(), "kind": self.kind.value, "level": self.level.value,
                "run_id": self.run_id, "step_id": self.step_id, "asset": self.asset,
                "partition": self.partition, "message": self.message, "data": self.data}


EventSink = Callable[[Event], None]


def discard(event: Event) -> None:
    """An `EventSink` that ignores every event."""
    del event

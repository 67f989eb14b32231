"""Batched metadata writes for one run: the coordinator is the only writer.

Rows and events are buffered and written in one short session (connect, one transaction, close)
every `interval` seconds or `max_rows` rows, so other `flowstone` processes get the store between
batches. Each flush also refreshes the run's heartbeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from flowstone_cli.events import Event, EventKind
from flowstone_cli.metadata.ids import new_id
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.statuses import EventLevel
from flowstone_cli.metadata.store import MetadataStore


def utc(ts: float) -> datetime:
    """A POSIX timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class RunRecorder:
    """Buffers one run's steps, lineage and events, and writes them in batches.

    Args:
        store: the metadata store.
        run_id: the run being recorded.
        interval: seconds between flushes while work is going on.
        max_rows: flush early when this many rows are waiting.
        redact: applied to every text written (removes resolved secrets).
    """

    def __init__(self, store: MetadataStore, run_id: str, *, interval: float = 0.5,
                 max_rows: int = 2000, redact: Callable[[str], str] = str) -> None:
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self.max_rows = max_rows
        self.redact = redact
        self._steps: list[StepRecord] = []
        self._lineage: list[LineageRecord] = []
        self._events: list[EventRecord] = []
        self._last_flush = time.monotonic()

    def start(self, run: RunRecord) -> None:
        """Write the run record (status running) at once."""
        with self.store.writer() as writer:
            writer.insert_run(run)
        self._last_flush = time.monotonic()

    def step(self, record: StepRecord, lineage: list[LineageRecord] | None = None) -> None:
        """Buffer a finished step attempt and the lineage it consumed."""
        if record.error_message or record.traceback:
            record = _redacted_step(record, self.redact)
        self._steps.append(record)
        if lineage:
            self._lineage.extend(lineage)

    def event(self, event: Event) -> None:
        """Buffer an event for the run's log."""
        self._events.append(EventRecord(
            event_id=new_id(), run_id=event.run_id, step_id=event.step_id, ts=event.ts,
            level=EventLevel(event.level.value), kind=event.kind.value, asset=event.asset,
            partition=event.partition, message=self.redact(event.message), data=event.data))

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return len(self._steps) + len(self._lineage) + len(self._events)

    def due(self) -> bool:
        """Whether a flush is due now."""
        return self.pending >= self.max_rows or (
            time.monotonic() - self._last_flush >= self.interval)

    def seconds_until_due(self) -> float:
        """How long until the next timed flush."""
        return max(0.0, self.interval - (time.monotonic() - self._last_flush))

    def flush(self, **run_fields: object) -> None:
        """Write everything buffered (and `run_fields` into the run record) in one session."""
        now = datetime.now(timezone.utc)
        with self.store.writer() as writer:
            if self._steps:
                writer.insert_steps(self._steps)
            if self._lineage:
                writer.insert_lineage(self._lineage)
            if self._events:
                writer.insert_events(self._events)
            writer.update_run(self.run_id, heartbeat_at=now, **run_fields)
        self._steps.clear()
        self._lineage.clear()
        self._events.clear()
        self._last_flush = time.monotonic()


def _redacted_step(record: StepRecord, redact: Callable[[str], str]) -> StepRecord:
    values = {name: getattr(record, name) for name in record.__dataclass_fields__}
    for name in ("error_message", "traceback"):
        if values[name]:
            values[name] = redact(values[name])
    return StepRecord(**values)


def event_kind_for_status(status: str) -> EventKind:
    """The event kind reported when a step attempt ends with `status`."""
    return {"succeeded": EventKind.STEP_SUCCEEDED, "failed": EventKind.STEP_FAILED,
            "timed_out": EventKind.STEP_TIMED_OUT, "canceled": EventKind.STEP_CANCELED,
            "skipped": EventKind.STEP_SKIPPED,
            "up_to_date": EventKind.STEP_UP_TO_DATE}[status]

"""Batched metadata writes for one run: the coordinator is the only writer.

Rows and events are buffered and written in one short session (connect, one transaction, close)
every `interval` seconds or `max_rows` rows, so other `flowstone` processes get the store between
batches. Each flush also refreshes the run's heartbeat, and a flush is due at least every
`heartbeat` seconds even when nothing is buffered, so a run with only long steps in flight still
shows it is alive (see `execution/liveness.py`). Callers may run more statements inside the same
session (claims, cancel requests) through a `hook`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from flowstone_cli.errors import MetadataStoreError
from flowstone_cli.events import Event, EventKind
from flowstone_cli.execution.liveness import HEARTBEAT_SECONDS
from flowstone_cli.metadata.checkpoints import CheckpointRequest
from flowstone_cli.metadata.checks import CheckRecord
from flowstone_cli.metadata.ids import new_id
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.statuses import EventLevel
from flowstone_cli.metadata.store import MetadataStore, StoreWriter

T = TypeVar("T")


def utc(ts: float) -> datetime:
    """A POSIX timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)


class RunRecorder:
    """Buffers one run's steps, lineage and events, and writes them in batches.

    Args:
        store: the metadata store.
        run_id: the run being recorded.
        interval: seconds between flushes while rows are waiting.
        max_rows: flush early when this many rows are waiting.
        redact: applied to every text written (removes resolved secrets).
        heartbeat: seconds between flushes when nothing is waiting (refreshes the heartbeat).
        poll_interval: seconds between flushes while the caller polls (waits on claims).
    """

    def __init__(self, store: MetadataStore, run_id: str, *, interval: float = 0.5,
                 max_rows: int = 2000, redact: Callable[[str], str] = str,
                 heartbeat: float = HEARTBEAT_SECONDS, poll_interval: float = 1.0) -> None:
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self.max_rows = max_rows
        self.redact = redact
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval
        self._steps: list[StepRecord] = []
        self._checkpoints: list[CheckpointRequest] = []
        self._checks: list[CheckRecord] = []
        self._lineage: list[LineageRecord] = []
        self._events: list[EventRecord] = []
        self._last_flush = time.monotonic()
        self._identity: tuple[int, int] | None = None

    def start(self, run: RunRecord, hook: Callable[[StoreWriter], object] | None = None) -> None:
        """Write the run record (status running) at once, and run `hook` in the same session."""
        with self.store.writer() as writer:
            writer.insert_run(run)
            if hook is not None:
                hook(writer)
        self._identity = _file_identity(self.store.path)
        self._last_flush = time.monotonic()

    def _check_same_store(self) -> None:
        """Refuse to write when the store file the run started with was deleted or replaced:
        opening it again would silently create a new, empty store."""
        if self._identity is None:
            return
        now = _file_identity(self.store.path)
        if now == self._identity:
            return
        what = "deleted" if now is None else "replaced by another file"
        raise MetadataStoreError(
            f"metadata store {self.store.path} was {what} while run {self.run_id} was "
            "running; nothing more is recorded and no new store was created",
            hint="Restore the store from a backup (values this run published are on disk but "
                 "not recorded); then run the selection again.")

    def step(self, record: StepRecord, lineage: list[LineageRecord] | None = None) -> None:
        """Buffer a finished step attempt and the lineage it consumed."""
        if record.error_message or record.traceback:
            record = _redacted_step(record, self.redact)
        self._steps.append(record)
        if lineage:
            self._lineage.extend(lineage)

    def checkpoint(self, request: CheckpointRequest) -> None:
        """Buffer a checkpoint request (or pass) made by this run."""
        self._checkpoints.append(request)

    def checks(self, rows: list[CheckRecord]) -> None:
        """Buffer asset check results."""
        self._checks.extend(rows)

    def event(self, event: Event) -> None:
        """Buffer an event for the run's log."""
        self._events.append(EventRecord(
            event_id=new_id(), run_id=event.run_id, step_id=event.step_id, ts=event.ts,
            level=EventLevel(event.level.value), kind=event.kind.value, asset=event.asset,
            partition=event.partition, message=self.redact(event.message), data=event.data))

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return len(self._steps) + len(self._lineage) + len(self._events) + len(self._checks)

    def due(self, *, polling: bool = False) -> bool:
        """Whether a flush is due now (`polling`: the caller waits for something in the store)."""
        return self.pending >= self.max_rows or self.seconds_until_due(polling=polling) <= 0.0

    def seconds_until_due(self, *, polling: bool = False) -> float:
        """How long until the next timed flush."""
        if self.pending:
            limit = self.interval
        elif polling:
            limit = self.poll_interval
        else:
            limit = self.heartbeat
        return max(0.0, limit - (time.monotonic() - self._last_flush))

    def flush(self, *, hook: Callable[[StoreWriter], T] | None = None,
              **run_fields: object) -> T | None:
        """Write everything buffered (and `run_fields` into the run record) in one session.

        Args:
            hook: run inside the same session after the rows are written; its result is
                returned (None without a hook).
            run_fields: columns of the run record to set.
        """
        self._check_same_store()
        now = datetime.now(timezone.utc)
        result = None
        with self.store.writer() as writer:
            if self._steps:
                writer.insert_steps(self._steps)
            if self._checkpoints:
                writer.insert_checkpoints(self._checkpoints)
            if self._lineage:
                writer.insert_lineage(self._lineage)
            if self._checks:
                writer.insert_checks(self._checks)
            if self._events:
                writer.insert_events(self._events)
            writer.update_run(self.run_id, heartbeat_at=now, **run_fields)
            if hook is not None:
                result = hook(writer)
        self._steps.clear()
        self._checkpoints.clear()
        self._lineage.clear()
        self._checks.clear()
        self._events.clear()
        self._last_flush = time.monotonic()
        return result


def _file_identity(path: os.PathLike[str]) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when it is gone."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


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
            "up_to_date": EventKind.STEP_UP_TO_DATE,
            "waiting_approval": EventKind.STEP_WAITING}[status]

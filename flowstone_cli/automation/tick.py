"""`flowstone tick`: everything a scheduler daemon would do, in one idempotent command.

Every schedule's due fire times (by UTC instant, DST-correct, under its catch-up policy) and
every sensor whose interval has elapsed are evaluated; each resulting run is claimed in the
metadata store *before* it is launched — a fire time by `(schedule, fire_time)`, a sensor request
by `(sensor, run_key)`, both primary keys — so overlapping ticks launch it at most once. Runs are
detached processes; the tick returns at once.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowstone_cli.automation.launcher import LaunchRequest, Launcher
from flowstone_cli.definitions.automation import (
    RunRequest,
    ScheduleContext,
    ScheduleSpec,
    SensorContext,
    SensorSpec,
    SkipReason,
)
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.durations import parse_duration
from flowstone_cli.metadata.automation import AutomationState
from flowstone_cli.metadata.ids import new_run_id
from flowstone_cli.metadata.store import MetadataStore
from flowstone_cli.partitions import MultiPartitions, TimeWindowPartitions
from flowstone_cli.planning.selection import select, split_terms
from flowstone_cli.timing.cron import due_ticks, previous_fire_time


@dataclass(frozen=True)
class TickAction:
    """One thing a tick did (or, with `--dry-run`, would do).

    Attributes:
        source: `schedule:NAME` or `sensor:NAME`.
        outcome: launched, skipped, already_claimed, not_due, failed, would_launch.
        fire_time: the schedule fire time (None for sensors).
        run_id: the launched run.
        partitions: partition keys of the run.
        message: details (skip reason, error, log file).
    """

    source: str
    outcome: str
    fire_time: datetime | None = None
    run_id: str | None = None
    partitions: tuple[str | None, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"source": self.source, "outcome": self.outcome,
                "fire_time": self.fire_time.isoformat() if self.fire_time else None,
                "run_id": self.run_id, "partitions": list(self.partitions),
                "message": self.message}


@dataclass
class TickReport:
    """Everything one tick did."""

    now: datetime
    dry_run: bool
    actions: list[TickAction] = field(default_factory=list)

    @property
    def launched(self) -> list[TickAction]:
        """Actions that launched (or would launch) a run."""
        return [a for a in self.actions if a.outcome in ("launched", "would_launch")]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"now": self.now.isoformat(), "dry_run": self.dry_run,
                "launched": len(self.launched), "actions": [a.to_dict() for a in self.actions]}


def latest_partition(definitions: Definitions, target: str, fire_time: datetime) -> str | None:
    """The newest complete window, at `fire_time`, of the target's time partitions."""
    for name in select(definitions, [target], state=lambda term: set(definitions.assets)).assets:
        definition = definitions.assets[name].partitions
        if isinstance(definition, MultiPartitions) and definition.time_dimension:
            definition = definition.dimension(definition.time_dimension)
        if isinstance(definition, TimeWindowPartitions):
            return definition.latest_complete_key(now=fire_time)
    return None


def schedule_partitions(spec: ScheduleSpec, definitions: Definitions, fire_time: datetime
                        ) -> list[str | None] | SkipReason:
    """The partitions one fire time of a schedule runs ([None]: unpartitioned)."""
    if spec.fn is not None:
        result = spec.fn(ScheduleContext(spec.name, fire_time))
    elif spec.partition == "latest":
        result = latest_partition(definitions, spec.target, fire_time)
        if result is None:
            return SkipReason(f"no complete partition of {spec.target} at {fire_time}")
    elif callable(spec.partition):
        result = spec.partition(fire_time)
    else:
        result = None
    if isinstance(result, SkipReason):
        return result
    if result is None:
        return [None]
    if isinstance(result, str):
        return [result]
    return list(result)


class Ticker:
    """Evaluates a project's schedules and sensors once.

    Args:
        definitions: the project's definitions.
        store: its metadata store.
        launch: starts a run (detached in real use; recorded in tests).
        project_root: passed to `launch`.
    """

    def __init__(self, definitions: Definitions, store: MetadataStore, launch: Launcher,
                 project_root: Any) -> None:
        self.definitions = definitions
        self.store = store
        self.launch = launch
        self.root = project_root

    def run(self, now: datetime, *, dry_run: bool = False) -> TickReport:
        """Evaluate every schedule and due sensor at `now`."""
        report = TickReport(now=now, dry_run=dry_run)
        exists = self.store.exists()
        with (self.store.reader() if exists else nullcontext()) as reader:
            last = reader.last_schedule_ticks() if reader else {}
            states = reader.automation_states() if reader else {}
        new_states: list[AutomationState] = []
        for spec in self.definitions.schedules.values():
            state = states.get(spec.name)
            if state is None:
                new_states.append(AutomationState(spec.name, "schedule", now, now, None,
                                                  None, None))
            self._schedule(spec, now, last.get(spec.name), state, report, dry_run)
        for spec in self.definitions.sensors.values():
            self._sensor(spec, now, states.get(spec.name), report, dry_run)
        if new_states and not dry_run:
            with self.store.writer() as writer:
                known = writer.automation_states()
                for state in new_states:
                    if state.name not in known:
                        writer.save_automation_state(state)
        return report

    # -- schedules ----------------------------------------------------------------------
    def _schedule(self, spec: ScheduleSpec, now: datetime, last: Any, state: Any,
                  report: TickReport, dry_run: bool) -> None:
        source = f"schedule:{spec.name}"
        first_seen = state.first_seen if state is not None else None
        if last is None and first_seen is None:
            # First evaluation: launch the most recent fire time, never an older backlog.
            previous = previous_fire_time(spec.cron, spec.timezone, at=now)
            first_seen = previous - timedelta(microseconds=1) if previous else now
        due = due_ticks(spec.cron, spec.timezone, last_tick=last.fire_time if last else None,
                        now=now, catch_up=spec.catch_up, max_catch_up=spec.max_catch_up,
                        first_seen=first_seen)
        for fire_time in due.fire_times:
            try:
                partitions = schedule_partitions(spec, self.definitions, fire_time)
            except Exception as exc:  # noqa: BLE001 - user code: recorded, the tick goes on
                partitions = SkipReason(f"partition function failed: {type(exc).__name__}: "
                                        f"{exc}")
            if isinstance(partitions, SkipReason):
                self._claim_and_skip(spec, fire_time, now, partitions.text, report, dry_run)
                continue
            request = LaunchRequest(run_id=new_run_id(), selection=tuple(split_terms(
                [spec.target])), partitions=tuple(p for p in partitions if p is not None),
                trigger=source, config=spec.config or None)
            if dry_run:
                report.actions.append(TickAction(source, "would_launch", fire_time,
                                                 partitions=tuple(partitions)))
                continue
            with self.store.writer() as writer:
                claimed = writer.claim_schedule_tick(spec.name, fire_time, partitions, now)
            if not claimed:
                report.actions.append(TickAction(source, "already_claimed", fire_time,
                                                 message="another tick launched it"))
                continue
            self._launch(request, report, source, fire_time, partitions,
                         lambda w, status, msg, r=request, f=fire_time: w.finish_schedule_tick(
                             spec.name, f, status, r.run_id if status == "launched" else None,
                             msg))
        if due.missed:
            report.actions.append(TickAction(source, "missed", message=f"{due.missed} fire "
                                             f"time(s) not launched (catch_up={spec.catch_up})"))

    def _claim_and_skip(self, spec: ScheduleSpec, fire_time: datetime, now: datetime,
                        reason: str, report: TickReport, dry_run: bool) -> None:
        source = f"schedule:{spec.name}"
        if not dry_run:
            with self.store.writer() as writer:
                if writer.claim_schedule_tick(spec.name, fire_time, [], now):
                    writer.finish_schedule_tick(spec.name, fire_time, "skipped", None, reason)
        report.actions.append(TickAction(source, "skipped", fire_time, message=reason))

    def _launch(self, request: LaunchRequest, report: TickReport, source: str,
                fire_time: datetime | None, partitions: Sequence[str | None], finish: Any
                ) -> bool:
        try:
            log = self.launch(self.root, request)
        except Exception as exc:  # noqa: BLE001 - recorded; the next schedules still run
            message = f"launch failed: {type(exc).__name__}: {exc}"
            with self.store.writer() as writer:
                finish(writer, "failed", message)
            report.actions.append(TickAction(source, "failed", fire_time, message=message))
            return False
        with self.store.writer() as writer:
            finish(writer, "launched", f"log: {log}")
        report.actions.append(TickAction(source, "launched", fire_time, request.run_id,
                                         tuple(partitions), f"log: {log}"))
        return True

    # -- sensors ------------------------------------------------------------------------
    def _sensor(self, spec: SensorSpec, now: datetime, state: Any, report: TickReport,
                dry_run: bool) -> None:
        source = f"sensor:{spec.name}"
        interval = parse_duration(spec.interval, what="interval")
        if state is not None and state.last_evaluated is not None and \
                now - state.last_evaluated < interval:
            return
        context = SensorContext(spec.name, now, state.cursor if state else None,
                                state.last_evaluated if state else None,
                                materializations=self._materializations,
                                project_root=self.root)
        try:
            results = spec.evaluate(context)
        except Exception as exc:  # noqa: BLE001 - user code: recorded, the tick goes on
            message = f"{type(exc).__name__}: {exc}"
            self._save_sensor(spec, now, state, context.cursor, "failed", message, [], dry_run)
            report.actions.append(TickAction(source, "failed", message=message + "\n" +
                                             traceback.format_exc(limit=3)))
            return
        requests = [r for r in results if isinstance(r, RunRequest)]
        skips = [r.text for r in results if isinstance(r, SkipReason)]
        keyed = [r.run_key for r in requests if r.run_key]
        if keyed and self.store.exists():
            with self.store.reader() as reader:
                known = reader.known_run_keys(spec.name, keyed)
            requests = [r for r in requests if r.run_key not in known]
        launched: list[str] = []
        for run in requests:
            request = LaunchRequest(run_id=new_run_id(), selection=tuple(split_terms(
                [spec.target])), partitions=(run.partition,) if run.partition else (),
                trigger=source, tags=dict(run.tags))
            if dry_run:
                report.actions.append(TickAction(source, "would_launch",
                                                 partitions=(run.partition,),
                                                 message=run.run_key or ""))
                continue
            if run.run_key:
                with self.store.writer() as writer:
                    if not writer.claim_run_key(spec.name, run.run_key, now):
                        report.actions.append(TickAction(source, "already_claimed",
                                                         message=run.run_key))
                        continue

            def finish(writer: Any, status: str, message: str, key: str | None = run.run_key,
                       run_id: str = request.run_id) -> None:
                if key and status == "launched":
                    writer.set_run_key_run(spec.name, key, run_id)

            if self._launch(request, report, source, None, (run.partition,), finish):
                launched.append(request.run_id)
        status = "launched" if launched else "skipped" if skips else "no_requests"
        self._save_sensor(spec, now, state, context.new_cursor, status, "; ".join(skips),
                          launched, dry_run)
        if skips and not launched:
            report.actions.append(TickAction(source, "skipped", message="; ".join(skips)))

    def _save_sensor(self, spec: SensorSpec, now: datetime, state: Any, cursor: str | None,
                     status: str, message: str, run_ids: list[str], dry_run: bool) -> None:
        if dry_run:
            return
        with self.store.writer() as writer:
            writer.save_automation_state(AutomationState(
                spec.name, "sensor", state.first_seen if state else now, now, cursor, status,
                message or None))
            writer.record_sensor_tick(spec.name, now, status, run_ids, message or None)

    def _materializations(self, assets: list[str], after: datetime | None
                          ) -> list[dict[str, Any]]:
        if not self.store.exists():
            return []
        with self.store.reader() as reader:
            return reader.materializations_since(assets, after)

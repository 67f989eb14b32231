"""Schedules, sensors, `tick` and the crontab line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api import notify
from flowstone_cli.api.approvals import expire
from flowstone_cli.api.launches import reconcile_launches
from flowstone_cli.api.wiring import open_store
from flowstone_cli.automation.launcher import LaunchRequest, Launcher, launch_detached
from flowstone_cli.automation.tick import Ticker, TickAction, TickReport
from flowstone_cli.errors import NotFoundError, UsageError
from flowstone_cli.metadata.ids import new_run_id
from flowstone_cli.planning.selection import split_terms
from flowstone_cli.project.loader import Project
from flowstone_cli.timing.cron import next_fire_time, preview


def run_tick(project: Project, *, now: datetime | None = None, dry_run: bool = False,
             launcher: Launcher = launch_detached) -> TickReport:
    """Evaluate due schedules and sensors and launch their runs (detached)."""
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise UsageError(f"--now {moment.isoformat()} has no time zone",
                         hint="Write it like 2025-01-16T01:05:00Z.")
    store = open_store(project)
    ticker = Ticker(project.definitions, store, launcher, project.root)
    report = ticker.run(moment.astimezone(timezone.utc), dry_run=dry_run)
    if not dry_run:
        # Runs launched earlier that died before recording themselves: record them as failed
        # (and queue their notification) so they show in `runs list --status failed`.
        report.actions.extend(reconcile_launches(project, store, datetime.now(timezone.utc)))
        _checkpoint_deadlines(project, moment.astimezone(timezone.utc), launcher, report)
        sent = notify.deliver_pending(project, store)
        if sent["sent"] or sent["failed"]:
            report.actions.append(TickAction("notifications", "delivered",
                                             message=f"{sent['sent']} sent, {sent['failed']} "
                                                     "failed (retried next tick)"))
    return report


def _checkpoint_deadlines(project: Project, now: datetime, launcher: Launcher,
                          report: TickReport) -> None:
    """Escalate overdue approval requests, decide timed-out ones, and launch what they free."""
    decisions = expire(project, now=now, resume=False)
    store = open_store(project)
    for decision in decisions:
        request = decision.request
        with store.reader() as reader:
            run = reader.get_run(request.run_id)
        launch = LaunchRequest(run_id=new_run_id(), selection=tuple(split_terms(
            [run.selection or request.checkpoint])),
            partitions=(request.partition,) if request.partition else (),
            trigger=f"timeout:{request.request_id}")
        log = launcher(project.root, launch)
        with store.writer() as writer:
            writer.update_checkpoint(request.request_id, resumed_run_id=launch.run_id)
        report.actions.append(TickAction(f"checkpoint:{request.checkpoint}", "expired",
                                         run_id=launch.run_id,
                                         partitions=(request.partition,),
                                         message=f"{request.outcome} by timeout; log: {log}"))


@dataclass(frozen=True)
class ScheduleRow:
    """A schedule as `schedules list` shows it."""

    name: str
    cron: str
    timezone: str
    target: str
    partition: str
    catch_up: str
    next_fire: datetime
    last_fire: datetime | None
    last_status: str | None
    last_run: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in self.__dict__.items()}


def list_schedules(project: Project, *, now: datetime | None = None) -> list[ScheduleRow]:
    """Every schedule with its next fire time and its last tick."""
    moment = now or datetime.now(timezone.utc)
    store = open_store(project)
    last: dict[str, Any] = {}
    if store.exists():
        with store.reader() as reader:
            last = reader.last_schedule_ticks()
    rows = []
    for spec in project.definitions.schedules.values():
        tick = last.get(spec.name)
        partition = "function" if spec.fn or callable(spec.partition) else (
            spec.partition or "-")
        rows.append(ScheduleRow(spec.name, spec.cron, spec.timezone, spec.target, partition,
                                spec.catch_up, next_fire_time(spec.cron, spec.timezone,
                                                              after=moment),
                                tick.fire_time if tick else None, tick.status if tick else None,
                                tick.run_id if tick else None))
    return rows


def list_sensors(project: Project) -> list[dict[str, Any]]:
    """Every sensor with its interval, last evaluation, cursor and last status."""
    store = open_store(project)
    states: dict[str, Any] = {}
    ticks: dict[str, Any] = {}
    if store.exists():
        with store.reader() as reader:
            states = reader.automation_states()
            ticks = reader.last_sensor_ticks()
    rows = []
    for spec in project.definitions.sensors.values():
        state = states.get(spec.name)
        rows.append({"name": spec.name, "target": spec.target, "interval": spec.interval,
                     "description": spec.description,
                     "last_evaluated": state.last_evaluated.isoformat()
                     if state and state.last_evaluated else None,
                     "last_status": state.last_status if state else None,
                     "cursor": state.cursor if state else None,
                     "last_message": state.last_message if state else None,
                     "last_runs": ticks.get(spec.name, {}).get("run_ids", [])})
    return rows


def preview_schedule(project: Project, name: str, *, count: int = 10,
                     start: datetime | None = None) -> list[datetime]:
    """The next `count` fire times of a schedule, in its own time zone."""
    spec = project.definitions.schedules.get(name)
    if spec is None:
        raise NotFoundError(f"no schedule named `{name}`",
                            hint="Run `flowstone schedules list`.")
    return preview(spec.cron, spec.timezone, start=start or datetime.now(timezone.utc),
                   count=count)


def cron_line(project: Project) -> str:
    """The crontab line that ticks this project every minute."""
    logs = project.root / ".flowstone" / "tick.log"
    return (f"* * * * * {sys.executable} -m flowstone_cli -p {project.root} tick "
            f">> {logs} 2>&1  # flowstone:{project.root}")


def install_cron(project: Project) -> bool:
    """Add `cron_line` to the user's crontab unless it is there; True when it was added.

    Raises:
        UsageError: there is no `crontab` program.
    """
    crontab = shutil.which("crontab")
    if crontab is None:
        raise UsageError("no `crontab` program on this machine",
                         hint="Install cron, or add the line printed by `flowstone cron` to "
                              "your scheduler yourself.")
    current = subprocess.run([crontab, "-l"], capture_output=True, text=True, check=False)
    existing = current.stdout if current.returncode == 0 else ""
    marker = f"# flowstone:{project.root}"
    if any(line.rstrip().endswith(marker) for line in existing.splitlines()):
        return False
    (project.root / ".flowstone").mkdir(exist_ok=True)
    updated = existing + ("" if not existing or existing.endswith("\n") else "\n") + \
        cron_line(project) + "\n"
    subprocess.run([crontab, "-"], input=updated, text=True, check=True)
    return True

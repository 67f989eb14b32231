"""`flowstone tick`, `schedules list|preview`, `sensors list` and `cron`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.state import JsonOpt, state_of
from flowstone_cli.errors import UsageError

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

schedules_app = typer.Typer(help="Cron schedules evaluated by `flowstone tick`.",
                            no_args_is_help=True)
sensors_app = typer.Typer(help="Sensors evaluated by `flowstone tick`.", no_args_is_help=True)


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now {text!r} is not an ISO date-time",
                         hint="Write it like 2025-01-16T01:05:00Z.") from None
    if moment.tzinfo is None:
        raise UsageError(f"--now {text!r} has no time zone",
                         hint="Add Z or an offset: 2025-01-16T01:05:00Z.")
    return moment


def tick(ctx: typer.Context,
         now: Annotated[str | None, typer.Option("--now", metavar="TIME",
                                                 help="Pretend it is this time (ISO, "
                                                 "with a zone), for tests and demos.",
                                                 show_default=False)] = None,
         dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate and show what would "
                                               "launch; record and launch nothing.")] = False,
         json_flag: JsonOpt = False) -> None:
    """Evaluate due schedules and sensors and launch their runs (call it every minute)."""
    from flowstone_cli.api.automation import run_tick

    state = state_of(ctx, json_flag=json_flag)
    report = run_tick(load(state), now=_parse_now(now), dry_run=dry_run)
    if state.json:
        state.printer.emit_json(report.to_dict())
        return
    for action in report.actions:
        when = f" {action.fire_time.isoformat()}" if action.fire_time else ""
        parts = ",".join(p for p in action.partitions if p) if action.partitions else ""
        state.printer.line(f"{action.source}{when}: {action.outcome}"
                           + (f" run {action.run_id}" if action.run_id else "")
                           + (f" [{parts}]" if parts else "")
                           + (f" ({action.message.splitlines()[0]})" if action.message else ""))
    state.printer.line(f"tick at {report.now.isoformat()}: {len(report.launched)} run(s) "
                       + ("would be launched" if dry_run else "launched"))


@schedules_app.command("list")
def schedules_list(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Schedules with their next fire time and last tick."""
    from flowstone_cli.api.automation import list_schedules

    state = state_of(ctx, json_flag=json_flag)
    rows = list_schedules(load(state))
    if state.json:
        state.printer.emit_json([r.to_dict() for r in rows])
        return
    state.printer.table(
        ["schedule", "cron", "timezone", "target", "partition", "next fire (UTC)", "last tick",
         "status", "run"],
        [(r.name, r.cron, r.timezone, r.target, r.partition,
          r.next_fire.strftime("%Y-%m-%d %H:%M"),
          r.last_fire.strftime("%Y-%m-%d %H:%M") if r.last_fire else "-",
          r.last_status or "-", r.last_run or "-") for r in rows])


@schedules_app.command("preview")
def schedules_preview(ctx: typer.Context, name: Annotated[str, typer.Argument()],
                      count: Annotated[int, typer.Option("--count", "-n", min=1)] = 10,
                      json_flag: JsonOpt = False) -> None:
    """The next fire times of a schedule, in its own time zone."""
    from flowstone_cli.api.automation import preview_schedule

    state = state_of(ctx, json_flag=json_flag)
    times = preview_schedule(load(state), name, count=count)
    if state.json:
        state.printer.emit_json([t.isoformat() for t in times])
    else:
        for moment in times:
            state.printer.line(moment.isoformat())


@sensors_app.command("list")
def sensors_list(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Sensors with their interval, last evaluation and status."""
    from flowstone_cli.api.automation import list_sensors

    state = state_of(ctx, json_flag=json_flag)
    rows = list_sensors(load(state))
    if state.json:
        state.printer.emit_json(rows)
        return
    state.printer.table(["sensor", "target", "interval", "last evaluated", "status", "runs",
                         "cursor"],
                        [(r["name"], r["target"], r["interval"], r["last_evaluated"] or "-",
                          r["last_status"] or "-", ", ".join(r["last_runs"]) or "-",
                          r["cursor"] or "-") for r in rows])


def cron(ctx: typer.Context,
         install: Annotated[bool, typer.Option("--install", help="Add the line to your crontab "
                                               "(once).")] = False) -> None:
    """Print the crontab line that runs `flowstone tick` for this project every minute."""
    from flowstone_cli.api.automation import cron_line, install_cron

    state = state_of(ctx)
    project = load(state)
    if install:
        added = install_cron(project)
        state.printer.line("added to your crontab:" if added else "already in your crontab:")
    state.printer.plain(cron_line(project))


def register(app: typer.Typer) -> None:
    """Add the automation commands."""
    app.command()(tick)
    app.command()(cron)
    app.add_typer(schedules_app, name="schedules")
    app.add_typer(sensors_app, name="sensors")

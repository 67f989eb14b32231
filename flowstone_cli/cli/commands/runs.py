"""`flowstone runs list|show|logs|resume|cancel`: the recorded history of runs, and acting on
runs that did not finish."""

from __future__ import annotations

from typing import Annotated

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.commands.run import render_summary
from flowstone_cli.cli.progress import RunView
from flowstone_cli.cli.state import DaskAddressOpt, JsonOpt, check_executor, state_of
from flowstone_cli.errors import UsageError

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

runs_app = typer.Typer(help="Inspect recorded runs; resume or cancel one.", no_args_is_help=True)

RunIdArg = Annotated[str, typer.Argument(help="Run id (or a unique prefix of at least 4 "
                                         "characters).")]


def _time(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""  # type: ignore


@runs_app.command("list")
def list_runs(ctx: typer.Context,
              limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
              status: Annotated[str | None, typer.Option("--status", metavar="STATUS",
                                                         help="Only runs with this "
                                                         "status.")] = None,
              tenant: Annotated[str | None, typer.Option("--tenant", metavar="TENANT",
                                                         help="Only runs that "
                                                         "touched this tenant's partitions.")]
              = None,
              json_flag: JsonOpt = False) -> None:
    """List recent runs, newest first."""
    from flowstone_cli.api import runs as runs_api

    state = state_of(ctx, json_flag=json_flag)
    runs = runs_api.list_runs(load(state), limit=limit, status=status, tenant=tenant)
    if state.json:
        state.printer.emit_json([r.to_dict() for r in runs])
        return
    rows = []
    for run in runs:
        counts = (run.summary or {}).get("counts", {})
        duration = (run.ended_at - run.started_at).total_seconds() \
            if run.ended_at and run.started_at else None
        rows.append((run.run_id, run.status.value, _time(run.started_at),
                     "" if duration is None else f"{duration:.1f}s", run.trigger or "",
                     run.actor or "", run.selection or "",
                     ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))))
    state.printer.table(["run", "status", "started (UTC)", "took", "trigger", "by", "selection",
                         "steps"], rows, title=f"{len(rows)} runs")


def usage_lines(metadata: list[dict]) -> list[str]:
    """One line per API resource and per `[limits.*]` the run's steps used, with totals."""
    apis: dict[str, dict[str, float]] = {}
    limits: dict[str, dict[str, float]] = {}
    for entry in metadata:
        for name, calls in (entry.get("api_calls") or {}).items():
            total = apis.setdefault(name, {})
            for key in ("calls", "retries", "failed", "latency_ms_total", "rate_wait_s"):
                total[key] = total.get(key, 0) + calls.get(key, 0)
            for key, value in (calls.get("usage") or {}).items():
                total[f"usage.{key}"] = total.get(f"usage.{key}", 0) + value
        for name, used in (entry.get("rate_limits") or {}).items():
            total = limits.setdefault(name, {})
            for key, value in used.items():
                total[key] = total.get(key, 0) + value
    lines = []
    for name, t in apis.items():
        usage = "".join(f", {k[6:]} {v:g}" for k, v in t.items() if k.startswith("usage."))
        lines.append(f"api {name}: {t['calls']:g} calls, {t['retries']:g} retries, "
                     f"{t['failed']:g} failed, {t['latency_ms_total'] / 1000:.2f}s in calls, "
                     f"{t['rate_wait_s']:.2f}s waiting for the rate{usage}")
    for name, t in limits.items():
        lines.append(f"limit {name}: used {t.get('acquired', 0):g} times (cost "
                     f"{t.get('cost', 0):g}), {t.get('waited_s', 0):.2f}s waiting")
    return lines


@runs_app.command("show")
def show_run(ctx: typer.Context, run_id: RunIdArg, json_flag: JsonOpt = False) -> None:
    """Show a run: its steps, times, and errors with tracebacks."""
    from flowstone_cli.api import runs as runs_api

    state = state_of(ctx, json_flag=json_flag)
    details = runs_api.show_run(load(state), run_id)
    if state.json:
        state.printer.emit_json(details.to_dict())
        return
    run = details.run
    printer = state.printer
    for label, value in (("run", run.run_id), ("status", run.status.value),
                         ("selection", run.selection), ("trigger", run.trigger),
                         ("by", run.actor), ("host", f"{run.host} (pid {run.pid})"),
                         ("command", run.command), ("started", _time(run.started_at)),
                         ("ended", _time(run.ended_at)), ("version", run.flowstone_version)):
        printer.line(f"{label:>9}: {value or '-'}")
    if run.parent_run_id:
        printer.line(f"{'resumes':>9}: {run.parent_run_id}")
    if (run.tags or {}).get("flowstone/config"):  # see definitions/run_config.py
        printer.line(f"{'config':>9}: {run.tags['flowstone/config']}")
    if (run.summary or {}).get("crashed"):
        printer.line(f"{'crashed':>9}: {run.summary['crashed']}")
    for label in ("error", "log"):
        if (run.summary or {}).get(label):
            printer.line(f"{label:>9}: {run.summary[label]}")
    if (run.summary or {}).get("log_tail"):
        printer.line("--- last lines of the log")
        printer.plain(run.summary["log_tail"])
    rows = [(str(s.asset if s.partition is None else f"{s.asset}[{s.partition}]"), s.attempt,
             s.status.value, s.reason or "",
             "" if s.duration_ms is None else f"{s.duration_ms / 1000:.2f}s",
             s.rows if s.rows is not None else "", s.error_message or "")
            for s in details.steps]
    headers = ["step", "attempt", "status", "reason", "took", "rows", "error"]
    if any((s.metadata or {}).get("worker") for s in details.steps):
        # Steps run on a cluster: show which worker (host and address) ran each one.
        headers.insert(5, "worker")
        rows = [(*row[:5], f"{s.host} {s.metadata['worker']}"
                 if (s.metadata or {}).get("worker") else "", *row[5:])
                for row, s in zip(rows, details.steps)]
    printer.table(headers, rows, title="steps")
    for line in usage_lines([s.metadata or {} for s in details.steps]):
        printer.line(line)
    for request in details.checkpoints:
        where = request.checkpoint + (f"[{request.partition}]" if request.partition else "")
        decision = (f"{request.status.value} by {request.decided_by}"
                    + (f" ({request.reason})" if request.reason else "")
                    if request.decided_by else request.status.value)
        patched = " · patched" if request.patch else ""
        printer.line(f"checkpoint {where}: request {request.request_id} {decision}{patched}")
    if details.checks:
        printer.table(["check", "partition", "result", "severity", "message"],
                      [(c.full_name, c.partition or "", "passed" if c.passed else "FAILED",
                        c.severity + (" · blocking" if c.blocking else ""), c.message or "")
                       for c in details.checks], title="checks")
    for step in details.steps:
        if step.traceback:
            printer.line("")
            printer.line(f"--- {step.asset} attempt {step.attempt}: {step.error_message}")
            printer.plain(step.traceback)


@runs_app.command("logs")
def run_logs(ctx: typer.Context, run_id: RunIdArg,
             all_events: Annotated[bool, typer.Option("--all", help="Every recorded event, not "
                                                      "only log messages and failures.")] = False,
             json_flag: JsonOpt = False) -> None:
    """Show the messages steps wrote through `context.log` during a run."""
    from flowstone_cli.api import runs as runs_api

    state = state_of(ctx, json_flag=json_flag)
    _, events = runs_api.run_logs(load(state), run_id, all_events=all_events)
    if state.json:
        state.printer.emit_json([{"ts": e.ts, "level": e.level.value, "kind": e.kind,
                                  "asset": e.asset, "partition": e.partition,
                                  "message": e.message} for e in events])
        return
    for event in events:
        where = event.asset if event.partition is None else f"{event.asset}[{event.partition}]"
        state.printer.line(f"{event.ts.strftime('%H:%M:%S.%f')[:-3]} {event.level.value:<7} "
                           f"{where or '-'}: {event.message}")


@runs_app.command("resume")
def resume_run(
    ctx: typer.Context, run_id: RunIdArg,
    executor: Annotated[str | None, typer.Option(
        "--executor", "-e", metavar="inline|process|dask",
        help="Where steps run (default: the type in flowstone.toml's \\[executor] table, "
        "else process).",
        show_default=False)] = None,
    dask_address: DaskAddressOpt = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", metavar="N",
                                                min=1, show_default=False,
                                                help="Worker processes.")] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME",
                                           help="Who is running this (default: "
                                           "$FLOWSTONE_ACTOR, else the OS user).",
                                           show_default=False)] = None,
    claim_timeout: Annotated[float | None, typer.Option(
        "--claim-timeout", min=0, help="Seconds a step may wait for another run computing it "
        "(default: while that run's heartbeat is fresh).", show_default=False)] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Re-run the failed, timed-out, abandoned, canceled and skipped steps of a finished run."""
    from flowstone_cli.api import runs as runs_api
    from flowstone_cli.api.materialize import MaterializeOptions

    state = state_of(ctx, json_flag=json_flag)
    check_executor(executor, dask_address)
    options = MaterializeOptions(selection=(), executor=executor, workers=workers, actor=by,
                                 dask_address=dask_address, claim_timeout=claim_timeout)
    project = load(state)
    with RunView(state.printer, log_format=state.log_format) as view:
        summary = runs_api.resume_run(project, run_id, options, sink=view)
    render_summary(state, summary)
    raise typer.Exit(summary.exit_code)


@runs_app.command("cancel")
def cancel_run(
    ctx: typer.Context, run_id: RunIdArg,
    wait: Annotated[float, typer.Option("--wait", metavar="SECONDS",
                                        min=0, help="Seconds to wait for the run to "
                                        "record itself canceled (0: do not wait).")] = 30.0,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME", help="Who cancels (default: "
                                           "$FLOWSTONE_ACTOR, else the OS user).",
                                           show_default=False)] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Stop a live run started by another `flowstone` process; it records itself canceled."""
    from flowstone_cli.api import ownership

    state = state_of(ctx, json_flag=json_flag)
    result = ownership.cancel_run(load(state), run_id, by=by, wait=wait)
    if state.json:
        state.printer.emit_json(result.to_dict())
        return
    how = (f"sent SIGINT to pid {result.signalled}" if result.signalled is not None
           else "request written to the metadata store")
    if result.run.status.value == "running":
        state.printer.line(f"run {result.run.run_id}: cancel requested ({how}); it is still "
                           "running and stops at its next heartbeat")
    else:
        state.printer.line(f"run {result.run.run_id} {result.run.status.value} ({how})")


def register(app: typer.Typer) -> None:
    """Add the `runs` command group to the app."""
    app.add_typer(runs_app, name="runs")


@runs_app.command("export-otel")
def export_otel(ctx: typer.Context,
                run_ids: Annotated[list[str] | None, typer.Argument(
                    help="Run ids (or unique prefixes) to export.", metavar="[RUN_ID]...",
                    show_default=False)] = None,
                since: Annotated[str | None, typer.Option(
                    "--since", metavar="DATE", help="Every run started at or after this date or "
                    "ISO time (UTC unless it names a zone).")] = None,
                endpoint: Annotated[str | None, typer.Option(
                    "--endpoint", metavar="URL", help="OTLP/HTTP endpoint (default: "
                    "$OTEL_EXPORTER_OTLP_ENDPOINT, then [telemetry] endpoint).")] = None,
                json_flag: JsonOpt = False) -> None:
    """Export runs as OpenTelemetry traces (OTLP/HTTP): one trace per run, one span per step
    attempt. Exporting again sends the same ids, so nothing is duplicated. Needs the `otel`
    extra.
    """
    import os

    from flowstone_cli.api import telemetry
    from flowstone_cli.api.report import parse_since

    state = state_of(ctx, json_flag=json_flag)
    if not run_ids and since is None:
        raise UsageError("give RUN_ID(s) or --since", hint="e.g. flowstone runs export-otel "
                         "--since 2025-01-01")
    project = load(state)
    settings = telemetry.settings_for(project, os.environ, endpoint)
    if settings is None:
        raise UsageError("no OpenTelemetry endpoint configured",
                         hint="Pass --endpoint URL, set OTEL_EXPORTER_OTLP_ENDPOINT, or add "
                              "[telemetry] endpoint to flowstone.toml.")
    result = telemetry.export_runs(project, settings, run_ids=run_ids or (),
                                   since=parse_since(since))
    if state.json:
        state.printer.emit_json({"runs": result.runs, "spans": result.spans,
                                 "endpoint": settings.endpoint})
        return
    state.printer.line(f"exported {result.runs} run(s), {result.spans} span(s) to "
                       f"{settings.endpoint}")

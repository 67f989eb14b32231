"""`flowstone checkpoints list|show|expire`, `approve` and `reject`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.commands.run import render_summary
from flowstone_cli.cli.progress import RunView
from flowstone_cli.cli.state import CliState, JsonOpt, state_of
from flowstone_cli.errors import UsageError

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

checkpoints_app = typer.Typer(help="Approval requests of checkpoints.", no_args_is_help=True)
IdArg = Annotated[str, typer.Argument(help="Request id (or a unique prefix).")]
ByOpt = Annotated[str | None, typer.Option("--by", metavar="NAME", help="Who decides (default: "
                                           "$FLOWSTONE_ACTOR, else the OS user).",
                                           show_default=False)]
ResumeOpt = Annotated[bool, typer.Option("--resume/--no-resume", help="Run the paused work "
                                         "now (default) or leave it to the next run.")]


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


@checkpoints_app.command("list")
def list_requests(ctx: typer.Context,
                  status: Annotated[str | None, typer.Option(
                      "--status", metavar="STATUS",
                      help="pending, approved, rejected or expired.")] = None,
                  json_flag: JsonOpt = False) -> None:
    """Approval requests, newest first."""
    from flowstone_cli.api.approvals import list_requests as api_list

    state = state_of(ctx, json_flag=json_flag)
    requests = api_list(load(state), status=status)
    if state.json:
        state.printer.emit_json([r.to_dict() for r in requests])
        return
    state.printer.table(["request", "checkpoint", "partition", "status", "requested (UTC)",
                         "times out", "decided by", "reason"],
                        [(r.request_id, r.checkpoint, r.partition or "-", r.status.value,
                          _time(r.requested_at), _time(r.timeout_at), r.decided_by or "-",
                          r.reason or "") for r in requests],
                        title=f"{len(requests)} requests")


@checkpoints_app.command("show")
def show(ctx: typer.Context, request_id: IdArg, json_flag: JsonOpt = False) -> None:
    """A request: the value under review (a preview), its run and its decision."""
    from flowstone_cli.api.approvals import get_request
    from flowstone_cli.review.preview import render

    state = state_of(ctx, json_flag=json_flag)
    request = get_request(load(state), request_id)
    if state.json:
        state.printer.emit_json(request.to_dict())
        return
    printer = state.printer
    for label, value in (("request", request.request_id), ("checkpoint", request.checkpoint),
                         ("partition", request.partition or "-"), ("status",
                                                                   request.status.value),
                         ("run", request.run_id), ("upstream", request.upstream_asset),
                         ("requested", _time(request.requested_at)),
                         ("times out", _time(request.timeout_at)),
                         ("escalates", _time(request.escalate_at)),
                         ("escalated", _time(request.escalated_at)),
                         ("decided", _time(request.decided_at)),
                         ("decided by", request.decided_by or "-"),
                         ("reason", request.reason or "-"),
                         ("value hash", request.value_hash or "-")):
        printer.line(f"{label:>10}: {value}")
    if request.patch:
        printer.line(f"{'patch':>10}: {request.patch}")
        printer.line(f"{'before':>10}: {request.before_hash}")
        printer.line(f"{'after':>10}: {request.after_hash}")
    printer.line("")
    printer.plain(render(request.summary or {}))
    if request.status.value == "pending":
        printer.line("")
        printer.line(f"decide: flowstone approve {request.request_id} --reason ... | "
                     f"flowstone reject {request.request_id} --reason ...")


def _after_decisions(state: CliState, decisions: list[Any]) -> None:
    if state.json:
        state.printer.emit_json([d.to_dict() for d in decisions])
    elif len(decisions) > 3:  # a backfill's requests: one line, not one per request
        request = decisions[0].request
        state.printer.line(f"{len(decisions)} requests {request.status.value} by "
                           f"{request.decided_by}"
                           + (f": {request.reason}" if request.reason else ""))
    else:
        for decision in decisions:
            request = decision.request
            state.printer.line(f"{request.request_id} ({request.checkpoint}"
                               f"{'[' + request.partition + ']' if request.partition else ''}): "
                               f"{request.status.value} by {request.decided_by}"
                               + (f": {request.reason}" if request.reason else ""))
    summaries = {d.resumed.run_id: d.resumed for d in decisions if d.resumed is not None}
    codes = [s.exit_code for s in summaries.values()]
    if not state.json:
        for summary in summaries.values():
            render_summary(state, summary)
    raise typer.Exit(max(codes) if codes else 0)


@checkpoints_app.command("expire")
def expire(ctx: typer.Context, resume: ResumeOpt = True, json_flag: JsonOpt = False) -> None:
    """Escalate overdue requests and decide timed-out ones by their on_timeout (tick does
    this too)."""
    from flowstone_cli.api.approvals import expire as api_expire

    state = state_of(ctx, json_flag=json_flag)
    with RunView(state.printer, log_format=state.log_format, quiet=True) as view:
        decisions = api_expire(load(state), resume=resume, sink=view)
    if not decisions and not state.json:
        state.printer.line("no request timed out")
    _after_decisions(state, decisions)


def approve(ctx: typer.Context,
            request_id: Annotated[str | None, typer.Argument(help="Request id (or a unique "
                                                             "prefix).")] = None,
            by: ByOpt = None,
            reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT",
                                                       help="Why.")] = None,
            patch: Annotated[Path | None, typer.Option(
                "--patch", help="A JSON merge patch (RFC 7396) applied to the value before "
                "it is approved.", exists=True, dir_okay=False, show_default=False)] = None,
            backfill: Annotated[str | None, typer.Option(
                "--backfill", metavar="BACKFILL_ID",
                help="Approve every pending request of this backfill.",
                show_default=False)] = None,
            resume: ResumeOpt = True, json_flag: JsonOpt = False) -> None:
    """Approve a request (optionally modifying the value) and run what waited for it."""
    from flowstone_cli.api.approvals import approve_backfill, decide

    state = state_of(ctx, json_flag=json_flag)
    if (request_id is None) == (backfill is None):
        raise UsageError("give a request id or --backfill ID", hint="flowstone approve ID")
    project = load(state)
    with RunView(state.printer, log_format=state.log_format, quiet=True) as view:
        if backfill is not None:
            if patch is not None:
                raise UsageError("--patch approves one request", hint="Drop --backfill.")
            decisions = approve_backfill(project, backfill, by=by, reason=reason,
                                         resume=resume, sink=view)
        else:
            decisions = [decide(project, request_id or "", approve=True, by=by, reason=reason,
                                patch_file=patch, resume=resume, sink=view)]
    _after_decisions(state, decisions)


def reject(ctx: typer.Context, request_id: IdArg,
           reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why (required).")],
           by: ByOpt = None, resume: ResumeOpt = True, json_flag: JsonOpt = False) -> None:
    """Reject a request: what waited for it is recorded as skipped, with the reason."""
    from flowstone_cli.api.approvals import decide

    state = state_of(ctx, json_flag=json_flag)
    with RunView(state.printer, log_format=state.log_format, quiet=True) as view:
        decision = decide(load(state), request_id, approve=False, by=by, reason=reason,
                          resume=resume, sink=view)
    _after_decisions(state, [decision])


def register(app: typer.Typer) -> None:
    """Add the approval commands."""
    app.add_typer(checkpoints_app, name="checkpoints")
    app.command()(approve)
    app.command()(reject)

"""`flowstone backfill`: run a selection over many partitions, resumably."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.commands.run import ConfigFileOpt, ConfigOpt, render_summary, run_config
from flowstone_cli.cli.progress import RunView
from flowstone_cli.cli.state import (
    CliState,
    DaskAddressOpt,
    ExcludeOpt,
    JsonOpt,
    VerboseOpt,
    check_executor,
    state_of,
)
from flowstone_cli.errors import UsageError

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

class _DefaultToRun(TyperGroup):
    """`backfill SEL ...` runs a backfill; `backfill list|show|resume|cancel ...` are
    subcommands. Any first word that is not a subcommand goes to the `run` command."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in self.commands and args[0] != "run":
            return super().resolve_command(ctx, args)
        return "run", self.commands["run"], _expand_partitions(args)


def _expand_partitions(args: list[str]) -> list[str]:
    """`--partitions K1 K2 K3` -> `--partitions K1 --partitions K2 --partitions K3` (click
    options take one value each; every word after it up to the next option is a key)."""
    out: list[str] = []
    collecting = False
    for arg in args:
        if arg == "--partitions":
            collecting = True
            continue
        if collecting and not arg.startswith("-"):
            out.extend(["--partitions", arg])
            continue
        collecting = False
        out.append(arg)
    return out


backfill_app = typer.Typer(
    cls=_DefaultToRun, no_args_is_help=True,
    help="Run a selection over many partitions: `backfill SEL --from START --to END` "
         "(or --partitions K1 K2 ..., or --all); then list, show ID, resume ID, cancel ID.",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
IdArg = Annotated[str, typer.Argument(help="Backfill id (or a unique prefix).")]
ExecutorOpt = Annotated[str | None, typer.Option("--executor", "-e",
                                                 metavar="inline|process|dask",
                                                 help="Where steps run (default: the type in "
                                                 "flowstone.toml's \\[executor] table, else "
                                                 "process).",
                                                 show_default=False)]
WorkersOpt = Annotated[int | None, typer.Option("--workers", "-w", metavar="N",
                                                min=1, show_default=False,
                                                help="Worker processes.")]


def _options(selection: list[str], exclude: list[str] | None, force: bool,
             executor: str | None, workers: int | None, by: str | None,
             dask_address: str | None = None) -> Any:
    from flowstone_cli.api.materialize import MaterializeOptions

    check_executor(executor, dask_address)
    return MaterializeOptions(selection=selection, exclude=exclude or (), force=force,
                              executor=executor, workers=workers, actor=by, trigger="backfill",
                              dask_address=dask_address)


def _finish(state: CliState, result: Any) -> None:
    if state.json:
        state.printer.emit_json(result.to_dict())
        raise typer.Exit(result.summary.exit_code)
    grid = result.partition_summary()
    groups: dict[str, list[str]] = {}
    for partition, statuses in grid.items():
        label = ", ".join(f"{n} {s}" for s, n in sorted(Counter(statuses.values()).items()))
        groups.setdefault(label, []).append(partition)
    state.printer.line(f"backfill {result.backfill.backfill_id}: {result.backfill.status.value}")
    for label, partitions in sorted(groups.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(partitions[:6]) + (" …" if len(partitions) > 6 else "")
        state.printer.line(f"  {len(partitions):>5} partition(s) with {label}: {shown}")
    render_summary(state, result.summary)
    if result.summary.status.value == "canceled":  # Ctrl-C or SIGTERM: say how to go on
        state.printer.line(f"resume it with: flowstone backfill resume "
                           f"{result.backfill.backfill_id}")
    raise typer.Exit(result.summary.exit_code)


@backfill_app.command("run", hidden=True)
def backfill(
    ctx: typer.Context,
    selection: Annotated[list[str] | None, typer.Argument(
        metavar="SELECTOR",
        help="Assets to backfill (same syntax as materialize).", show_default=False)] = None,
    start: Annotated[str | None, typer.Option("--from", metavar="KEY",
                                              help="First partition (inclusive).",
                                              show_default=False)] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="KEY",
                                            help="Last partition (inclusive).",
                                            show_default=False)] = None,
    partitions: Annotated[list[str] | None, typer.Option(
        "--partitions", metavar="KEY",
        help="Explicit partition keys (repeatable, or several after one "
        "option).", show_default=False)] = None,
    all_partitions: Annotated[bool, typer.Option("--all", help="Every partition.")] = False,
    max_parallel: Annotated[int | None, typer.Option(
        "--max-parallel", metavar="N",
        min=1, help="At most N partitions in flight.", show_default=False)] = None,
    exclude: ExcludeOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Run up-to-date partitions too.")] = False,
    executor: ExecutorOpt = None,
    dask_address: DaskAddressOpt = None,
    workers: WorkersOpt = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME", help="Who is running this.",
                                           show_default=False)] = None,
    config: ConfigOpt = None,
    config_file: ConfigFileOpt = None,
    verbose: VerboseOpt = False,
    json_flag: JsonOpt = False,
) -> None:
    """Backfill SEL over partitions: `--from START --to END`, `--partitions K1 K2 ...` or
    `--all`."""
    from flowstone_cli.api.backfill import start_backfill
    from flowstone_cli.planning.partition_selection import PartitionRequest

    state = state_of(ctx, json_flag=json_flag)
    if not selection:
        raise UsageError("backfill needs a selection", hint="e.g. flowstone backfill "
                                                            "'+daily_report' --from 2025-01-01 "
                                                            "--to 2025-01-31")
    ways = sum([start is not None or end is not None, bool(partitions), all_partitions])
    if ways != 1 or (start is None) != (end is None):
        raise UsageError("choose partitions one way: --from START --to END, --partitions K1 "
                         "K2 ..., or --all", hint="e.g. --from 2025-01-01 --to 2025-01-31")
    keys = tuple(k for value in partitions or [] for k in value.split())
    request = PartitionRequest(keys=keys, start=start, end=end, all=all_partitions)
    project = load(state)
    options = replace(_options(selection, exclude, force, executor, workers, by, dask_address),
                      config=run_config(project, config, config_file))
    with RunView(state.printer, log_format=state.log_format, verbose=verbose) as view:
        result = start_backfill(project, selection, request, options=options,
                                max_parallel=max_parallel, sink=view)
    _finish(state, result)


@backfill_app.command("resume")
def resume(ctx: typer.Context, backfill_id: IdArg, executor: ExecutorOpt = None,
           dask_address: DaskAddressOpt = None, workers: WorkersOpt = None,
           json_flag: JsonOpt = False) -> None:
    """Run only what the backfill has not finished (after a failure, Ctrl-C or a kill)."""
    from flowstone_cli.api.backfill import resume_backfill

    state = state_of(ctx, json_flag=json_flag)
    project = load(state)
    with RunView(state.printer, log_format=state.log_format) as view:
        result = resume_backfill(project, backfill_id,
                                 options=_options(["*"], None, False, executor, workers, None,
                                                  dask_address),
                                 sink=view)
    _finish(state, result)


@backfill_app.command("cancel")
def cancel(ctx: typer.Context, backfill_id: IdArg, json_flag: JsonOpt = False) -> None:
    """Cancel a backfill; a run of it in progress on this machine stops and records itself
    canceled."""
    from flowstone_cli.api.backfill import cancel_backfill

    state = state_of(ctx, json_flag=json_flag)
    record, pids = cancel_backfill(load(state), backfill_id)
    if state.json:
        state.printer.emit_json({"backfill": record.to_dict(), "interrupted_pids": pids})
    else:
        state.printer.line(f"backfill {record.backfill_id} canceled"
                           + (f"; interrupted pid {', '.join(map(str, pids))}" if pids else ""))


@backfill_app.command("list")
def list_backfills(ctx: typer.Context, limit: Annotated[int, typer.Option("--limit", "-n",
                                                                          min=1)] = 20,
                   json_flag: JsonOpt = False) -> None:
    """Recent backfills, newest first."""
    from flowstone_cli.api.backfill import list_backfills as api_list

    state = state_of(ctx, json_flag=json_flag)
    records = api_list(load(state), limit=limit)
    if state.json:
        state.printer.emit_json([r.to_dict() for r in records])
        return
    rows = [(r.backfill_id, r.status.value, r.selection, _describe(r.partitions),
             r.created_at.strftime("%Y-%m-%d %H:%M:%S") if r.created_at else "", r.actor or "",
             ", ".join(f"{n} {s}" for s, n in sorted(r.summary.get("counts", {}).items())))
            for r in records]
    state.printer.table(["backfill", "status", "selection", "partitions", "created (UTC)", "by",
                         "last run"], rows, title=f"{len(rows)} backfills")


def _describe(partitions: dict[str, Any]) -> str:
    if partitions.get("all"):
        return "all"
    if "from" in partitions:
        return f"{partitions['from']}..{partitions['to']}"
    keys = partitions.get("keys", [])
    return ", ".join(keys[:4]) + (" …" if len(keys) > 4 else "")


@backfill_app.command("show")
def show(ctx: typer.Context, backfill_id: IdArg,
         tenant: Annotated[str | None, typer.Option("--tenant", metavar="TENANT",
                                                    help="Only this tenant's "
                                                    "partitions.")] = None,
         json_flag: JsonOpt = False) -> None:
    """A backfill's status grid: one row per partition, one column per asset."""
    from flowstone_cli.api.backfill import show_backfill

    state = state_of(ctx, json_flag=json_flag)
    grid = show_backfill(load(state), backfill_id, tenant=tenant)
    if state.json:
        state.printer.emit_json(grid.to_dict())
        return
    record = grid.backfill
    state.printer.line(f"backfill {record.backfill_id}: {record.status.value} · "
                       f"{record.selection} · {_describe(record.partitions)} · " +
                       ", ".join(f"{n} {s}" for s, n in sorted(grid.counts().items())))
    rows = [[p or "-"] + [grid.cells.get((a, p), "") for a in grid.assets]
            for p in grid.partitions]
    state.printer.table(["partition", *grid.assets], rows)


def register(app: typer.Typer) -> None:
    """Add the `backfill` command group."""
    app.add_typer(backfill_app, name="backfill")

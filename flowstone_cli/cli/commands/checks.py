"""`flowstone checks list|show` and `flowstone check-assets`: asset checks and their results."""

from __future__ import annotations

from typing import Annotated

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.commands.run import partition_request
from flowstone_cli.cli.state import (
    ExcludeOpt,
    JsonOpt,
    PartitionOpt,
    PartitionRangeOpt,
    SelectionArg,
    state_of,
)
from flowstone_cli.errors import ExitCode

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

checks_app = typer.Typer(help="Asset checks: what correct data looks like, and the results.",
                         no_args_is_help=True)


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""  # type: ignore


@checks_app.command("list")
def list_checks(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Every declared check, with its verdicts on the asset's current values.
    """
    from flowstone_cli.api import asset_checks

    state = state_of(ctx, json_flag=json_flag)
    summaries = asset_checks.list_checks(load(state))
    if state.json:
        state.printer.emit_json([s.to_dict() for s in summaries])
        return
    rows = [(s.spec.full_name, s.spec.severity.value + (" · blocking" if s.spec.blocking
                                                          else ""),
             s.spec.description, f"{s.passed} passed, {s.failed} failed"
             if s.passed or s.failed else "never run") for s in summaries]
    state.printer.table(["check", "severity", "description", "current values"], rows,
                        title=f"{len(rows)} checks")


@checks_app.command("show")
def show_check(ctx: typer.Context,
               name: Annotated[str, typer.Argument(help="ASSET.CHECK (or a unique check "
                                                  "name).", metavar="CHECK")],
               limit: Annotated[int, typer.Option("--limit", "-n", min=1,
                                                  metavar="N")] = 20,
               json_flag: JsonOpt = False) -> None:
    """A check's definition and its newest results.
    """
    from flowstone_cli.api import asset_checks

    state = state_of(ctx, json_flag=json_flag)
    spec, history = asset_checks.check_history(load(state), name, limit=limit)
    if state.json:
        state.printer.emit_json({"check": spec.full_name, "kind": spec.kind,
                                 "blocking": spec.blocking, "severity": spec.severity.value,
                                 "description": spec.description, "location": spec.location,
                                 "results": [r.to_dict() for r in history]})
        return
    printer = state.printer
    for label, value in (("check", spec.full_name), ("kind", spec.kind),
                         ("severity", spec.severity.value + (" · blocking" if spec.blocking
                                                            else "")),
                         ("about", spec.description), ("defined", spec.location)):
        printer.line(f"{label:>9}: {value or '-'}")
    printer.table(["when (UTC)", "partition", "result", "run", "message"],
                  [(_when(r.executed_at), r.partition or "", "passed" if r.passed else "FAILED",
                    r.run_id or "check-assets", r.message or "") for r in history],
                  title=f"{len(history)} newest results")


def check_assets(ctx: typer.Context, selection: SelectionArg, exclude: ExcludeOpt = None,
                 partition: PartitionOpt = None, partitions: PartitionRangeOpt = None,
                 json_flag: JsonOpt = False) -> None:
    """Re-run the checks of the selected assets on their stored values (nothing is
    recomputed). Exit 1 when a check of severity `error` fails.
    """
    from flowstone_cli.api import asset_checks

    state = state_of(ctx, json_flag=json_flag)
    result = asset_checks.check_assets(load(state), selection, exclude or (),
                                       partitions=partition_request(partition, partitions))
    if state.json:
        state.printer.emit_json(result.to_dict())
    else:
        printer = state.printer
        printer.table(["check", "partition", "result", "severity", "message"],
                      [(r.full_name, r.partition or "", "passed" if r.passed else "FAILED",
                        r.severity + (" · blocking" if r.blocking else ""), r.message or "")
                       for r in result.results], title=f"{len(result.results)} check results")
        if result.not_materialized:
            printer.line("not materialized (nothing to check): "
                         + ", ".join(result.not_materialized))
        for error in result.errors:
            printer.line(f"could not load {error}", style="red")
    if result.failed or result.errors:
        raise typer.Exit(int(ExitCode.STEP_FAILED))


def register(app: typer.Typer) -> None:
    """Add the asset-check commands."""
    app.add_typer(checks_app, name="checks")
    app.command("check-assets")(check_assets)

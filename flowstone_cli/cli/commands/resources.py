"""`flowstone resources check`."""

from __future__ import annotations

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.state import JsonOpt, state_of
from flowstone_cli.errors import ExitCode

resources_app = typer.Typer(help="Check the project's resources.", no_args_is_help=True)


@resources_app.command("check")
def check(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Validate every \\[resources.*] section and run each resource's health check."""
    from flowstone_cli.api.resources import check_resources  # lazy: start-up speed

    state = state_of(ctx, json_flag=json_flag)
    results = check_resources(load(state))
    if state.json:
        state.printer.emit_json([r.to_dict() for r in results])
    elif not results:
        state.printer.line("no resources configured")
    else:
        state.printer.table(["resource", "type", "health"],
                            [(r.name, r.type, "ok" if r.problem is None else r.problem)
                             for r in results])
    if any(r.problem is not None for r in results):
        raise typer.Exit(int(ExitCode.STEP_FAILED))


def register(app: typer.Typer) -> None:
    """Add the `resources` command group."""
    app.add_typer(resources_app, name="resources")

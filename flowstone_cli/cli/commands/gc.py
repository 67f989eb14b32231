"""`flowstone gc`: remove what killed writers left behind."""

from __future__ import annotations

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.state import JsonOpt, state_of


def gc(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Remove temporary files of values never published (their writer was killed)."""
    from flowstone_cli.api.gc import collect_garbage

    state = state_of(ctx, json_flag=json_flag)
    result = collect_garbage(load(state))
    if state.json:
        state.printer.emit_json({"removed": result.removed, "roots": list(result.roots)})
        return
    state.printer.line(f"removed {result.removed} leftover temporary file(s) under "
                       + (", ".join(result.roots) or "no local storage root"))


def register(app: typer.Typer) -> None:
    """Add `gc`."""
    app.command()(gc)

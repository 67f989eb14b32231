"""`flowstone ui`: the live local dashboard (extra `flowstone-cli[ui]`)."""

from __future__ import annotations

from typing import Annotated

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.state import state_of
from flowstone_cli.errors import UsageError


def ui(ctx: typer.Context,
       host: Annotated[str, typer.Option("--host", help="Address to listen on. Anything but "
                                         "127.0.0.1/localhost is reachable by others.")
                       ] = "127.0.0.1",
       port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 8765,
       open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the "
                                                  "dashboard in a browser.")] = True,
       read_only: Annotated[bool, typer.Option("--read-only", help="Show everything; "
                                               "approve, reject and launch are turned "
                                               "off.")] = False) -> None:
    """A live dashboard: asset graph, runs, backfills, partitions and the approval queue."""
    state = state_of(ctx)
    try:
        from flowstone_cli.web.server import serve
    except ImportError as exc:
        if exc.name not in ("starlette", "uvicorn") and not str(exc.name).startswith(
                ("starlette.", "uvicorn.")):
            raise
        raise UsageError(f"`flowstone ui` needs the optional `ui` dependencies ({exc.name} is "
                         "not installed)", hint="pip install 'flowstone-cli[ui]'") from None
    project = load(state)
    printer = state.printer
    serve(project, host=host, port=port, read_only=read_only, open_browser=open_browser,
          say=lambda text: print(text, flush=True),
          warn=lambda text: printer.err.print(text, style="yellow", markup=False))


def register(app: typer.Typer) -> None:
    """Add `ui`."""
    app.command()(ui)

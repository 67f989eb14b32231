"""The CLI's commands, one module per family."""

from __future__ import annotations

import typer

from flowstone_cli.cli.commands import inspect as inspect_commands


def register_commands(app: typer.Typer) -> None:
    """Add every command to `app`."""
    inspect_commands.register(app)

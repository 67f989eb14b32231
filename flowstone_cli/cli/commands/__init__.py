"""The CLI's commands, one module per family."""

from __future__ import annotations

import typer

from flowstone_cli.cli.commands import automation as automation_commands
from flowstone_cli.cli.commands import backfill as backfill_commands
from flowstone_cli.cli.commands import checkpoints as checkpoint_commands
from flowstone_cli.cli.commands import checks as check_commands
from flowstone_cli.cli.commands import gc as gc_commands
from flowstone_cli.cli.commands import inspect as inspect_commands
from flowstone_cli.cli.commands import lineage as lineage_commands
from flowstone_cli.cli.commands import partitions as partitions_commands
from flowstone_cli.cli.commands import run as run_commands
from flowstone_cli.cli.commands import resources as resources_commands
from flowstone_cli.cli.commands import runs as runs_commands
from flowstone_cli.cli.commands import ui as ui_commands


def register_commands(app: typer.Typer) -> None:
    """Add every command to `app`."""
    inspect_commands.register(app)
    run_commands.register(app)
    runs_commands.register(app)
    resources_commands.register(app)
    backfill_commands.register(app)
    partitions_commands.register(app)
    lineage_commands.register(app)
    automation_commands.register(app)
    checkpoint_commands.register(app)
    check_commands.register(app)
    ui_commands.register(app)
    gc_commands.register(app)

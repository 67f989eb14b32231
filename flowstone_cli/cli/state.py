"""Global CLI state and the option aliases shared by commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from flowstone_cli.cli.output import Printer


@dataclass
class CliState:
    """Options given before the command name (`flowstone -p DIR --json list`)."""

    project: Path | None = None
    json: bool = False
    debug: bool = False
    log_format: str = "text"
    printer: Printer = field(default_factory=Printer)
    project_obj: Any = None


def state_of(ctx: typer.Context, *, json_flag: bool = False) -> CliState:
    """The state set by the global callback, with a command-level `--json` folded in."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        state = CliState()
        ctx.find_root().obj = state
    if json_flag and not state.json:
        state.json = True
        state.printer.json = True
    return state


JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Without a terminal, print a "
                                          "line for up-to-date steps too.")]
SelectionArg = Annotated[list[str], typer.Argument(
    metavar="SELECTOR",
    help="Assets to select: name, +name, name+, 2+name, group:NAME, tag:KEY=VALUE or *.",
    show_default=False)]
ExcludeOpt = Annotated[list[str] | None, typer.Option(
    "--exclude", "-x", metavar="SELECTOR",
    help="Remove these assets from the selection (same syntax).")]

PartitionOpt = Annotated[list[str] | None, typer.Option(
    "--partition", metavar="KEY",
    help="A partition key (repeatable); multi-dimensional keys are written "
    "dim=key,dim=key in any order.", show_default=False)]
PartitionRangeOpt = Annotated[str | None, typer.Option(
    "--partitions", metavar="START..END",
    help="An inclusive range START..END, e.g. 2025-01-01..2025-01-31.",
    show_default=False)]

DaskAddressOpt = Annotated[str | None, typer.Option(
    "--dask-address", help="With --executor dask: the scheduler, e.g. tcp://host:8786 "
    "(default: the executor address in flowstone.toml, else a local cluster of --workers "
    "processes).",
    show_default=False)]
EXECUTORS = ("inline", "process", "dask")


def check_executor(executor: str | None, dask_address: str | None = None) -> None:
    """Refuse an unknown executor name, or a Dask address given for another executor."""
    from flowstone_cli.errors import UsageError

    if executor not in (None, *EXECUTORS):
        raise UsageError(f"unknown executor `{executor}`", hint="Use inline, process or dask.")
    if dask_address and executor not in (None, "dask"):
        raise UsageError("--dask-address only applies to --executor dask",
                         hint="Add --executor dask, or drop --dask-address.")

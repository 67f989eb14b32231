"""`flowstone partitions add|remove|list|status`."""

from __future__ import annotations

from typing import Annotated

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.state import JsonOpt, state_of

# The API is imported inside each command, lazily, to keep `flowstone --help` fast.

partitions_app = typer.Typer(help="Dynamic partition keys and partition status.",
                             no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="Name given to DynamicPartitions(name).")]
KeysArg = Annotated[list[str], typer.Argument(help="Partition keys.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", metavar="TENANT",
                                               help="Only this tenant's partitions.")]


@partitions_app.command("add")
def add(ctx: typer.Context, name: NameArg, keys: KeysArg, json_flag: JsonOpt = False) -> None:
    """Register keys of a dynamic partitions definition."""
    from flowstone_cli.api import partitions as api

    state = state_of(ctx, json_flag=json_flag)
    added = api.add_keys(load(state), name, keys)
    if state.json:
        state.printer.emit_json({"name": name, "added": added})
    else:
        state.printer.line(f"added {len(added)} key(s) to `{name}`"
                           + (f": {', '.join(added)}" if added else " (all were registered)"))


@partitions_app.command("remove")
def remove(ctx: typer.Context, name: NameArg, keys: KeysArg, json_flag: JsonOpt = False) -> None:
    """Unregister keys (stored data and history stay)."""
    from flowstone_cli.api import partitions as api

    state = state_of(ctx, json_flag=json_flag)
    removed = api.remove_keys(load(state), name, keys)
    if state.json:
        state.printer.emit_json({"name": name, "removed": removed})
    else:
        state.printer.line(f"removed {len(removed)} key(s) from `{name}`")


@partitions_app.command("list")
def list_keys(ctx: typer.Context, name: NameArg, json_flag: JsonOpt = False) -> None:
    """The registered keys of a dynamic partitions definition."""
    from flowstone_cli.api import partitions as api

    state = state_of(ctx, json_flag=json_flag)
    keys = api.list_keys(load(state), name)
    if state.json:
        state.printer.emit_json(keys)
    else:
        for key in keys:
            state.printer.line(key)


def _compact(keys: list[str], limit: int = 12) -> str:
    if len(keys) <= limit:
        return ", ".join(keys) or "-"
    return f"{', '.join(keys[:limit // 2])}, … {', '.join(keys[-limit // 2:])}"


@partitions_app.command("status")
def status(ctx: typer.Context, asset: Annotated[str, typer.Argument(help="Asset name.")],
           tenant: TenantOpt = None, json_flag: JsonOpt = False) -> None:
    """Materialized, failed and missing partitions of an asset."""
    from flowstone_cli.api import partitions as api

    state = state_of(ctx, json_flag=json_flag)
    result = api.partition_status(load(state), asset, tenant=tenant)
    if state.json:
        state.printer.emit_json(result.to_dict())
        return
    state.printer.line(f"{result.asset}: {result.definition}")
    for label, keys in (("materialized", result.materialized), ("failed", result.failed),
                        ("missing", result.missing)):
        state.printer.line(f"{label:>13}: {len(keys):>6}  {_compact(keys)}")


def register(app: typer.Typer) -> None:
    """Add the `partitions` command group."""
    app.add_typer(partitions_app, name="partitions")

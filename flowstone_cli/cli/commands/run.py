"""`flowstone materialize`: run a selection."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from flowstone_cli.cli.commands.inspect import load
from flowstone_cli.cli.progress import RunView, counts_line, summary_table
from flowstone_cli.cli.state import (
    DaskAddressOpt,
    ExcludeOpt,
    JsonOpt,
    PartitionOpt,
    PartitionRangeOpt,
    SelectionArg,
    VerboseOpt,
    check_executor,
    state_of,
)
from flowstone_cli.errors import UsageError

# The API is imported inside the command, lazily, to keep `flowstone --help` fast.


def parse_tags(values: list[str] | None) -> dict[str, str]:
    """`KEY=VALUE` strings to a dict; a malformed one is a usage error."""
    tags: dict[str, str] = {}
    for value in values or []:
        key, eq, val = value.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", key):
            raise UsageError(f"--tag {value!r} is not KEY=VALUE",
                             hint="Write tags like --tag team=data.")
        tags[key] = val
    return tags


ConfigOpt = Annotated[list[str] | None, typer.Option(
    "--config", metavar="KEY=VALUE", help="Run config value for the asset's config model "
    "(ASSET.KEY=VALUE when several assets have one; TOML scalar, else string; repeatable).",
    show_default=False)]
ConfigFileOpt = Annotated[str | None, typer.Option(
    "--config-file", metavar="FILE", help="TOML run config: a [ASSET] table per asset (or "
    "top-level keys when only one asset has a config); --config overrides it.",
    show_default=False)]


def run_config(project: Any, pairs: list[str] | None, file: str | None,
               json_text: str | None = None) -> dict[str, dict]:
    """The run config given by a schedule (JSON), `--config-file` then `--config`, by asset
    (not yet validated)."""
    if not pairs and not file and not json_text:
        return {}
    import json

    from flowstone_cli.definitions import run_config as rc

    names = rc.configured_assets(project.definitions)
    scheduled = rc.by_asset(json.loads(json_text), names, "schedule config") if json_text else {}
    return rc.merge(scheduled, rc.load_file(file, names) if file else {},
                    rc.parse_pairs(pairs or ()))


def partition_request(partition: list[str] | None, partitions: str | None) -> Any:
    """The `PartitionRequest` for `--partition` / `--partitions` (not both)."""
    from flowstone_cli.planning.partition_selection import PartitionRequest
    from flowstone_cli.partitions import parse_partition_range

    if partition and partitions:
        raise UsageError("give either --partition or --partitions, not both",
                         hint="--partition K (repeatable) or --partitions START..END.")
    if partitions:
        start, end = parse_partition_range(partitions)
        return PartitionRequest(start=start, end=end)
    return PartitionRequest(keys=tuple(partition or ()))


def materialize(
    ctx: typer.Context,
    selection: SelectionArg,
    exclude: ExcludeOpt = None,
    partition: PartitionOpt = None,
    partitions: PartitionRangeOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Run every selected step, even when "
                                        "up to date.")] = False,
    executor: Annotated[str | None, typer.Option(
        "--executor", "-e", metavar="inline|process|dask",
        help="Where steps run (default: the type in flowstone.toml's \\[executor] table, "
        "else process).",
        show_default=False)] = None,
    dask_address: DaskAddressOpt = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", metavar="N", min=1,
                                                help="Worker processes (default: one per "
                                                "core).", show_default=False)] = None,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Stop scheduling new steps "
                                            "after the first failure.")] = False,
    tag: Annotated[list[str] | None, typer.Option("--tag", metavar="KEY=VALUE",
                                                  help="Run tag KEY=VALUE "
                                                  "(repeatable).")] = None,
    step_timeout: Annotated[str | None, typer.Option(
        "--step-timeout", metavar="DURATION",
        help="Kill steps running longer than this (e.g. 10m), unless the "
        "asset sets its own timeout.", show_default=False)] = None,
    by: Annotated[str | None, typer.Option("--by", metavar="NAME",
                                           help="Who is running this (default: "
                                           "$FLOWSTONE_ACTOR, else the OS user).",
                                           show_default=False)] = None,
    claim_timeout: Annotated[float | None, typer.Option(
        "--claim-timeout", min=0, help="Seconds a step may wait for another run computing it "
        "(default: while that run's heartbeat is fresh).", show_default=False)] = None,
    config: ConfigOpt = None,
    config_file: ConfigFileOpt = None,
    config_json: Annotated[str | None, typer.Option("--config-json", hidden=True)] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", hidden=True)] = None,
    trigger: Annotated[str, typer.Option("--trigger", hidden=True)] = "cli",
    verbose: VerboseOpt = False,
    json_flag: JsonOpt = False,
) -> None:
    """Compute and store the selected assets that are not up to date."""
    from flowstone_cli.api.materialize import MaterializeOptions
    from flowstone_cli.api.materialize import materialize as run_materialize

    state = state_of(ctx, json_flag=json_flag)
    check_executor(executor, dask_address)
    project = load(state)
    options = MaterializeOptions(selection=selection, exclude=exclude or (), force=force,
                                 executor=executor, workers=workers, fail_fast=fail_fast,
                                 dask_address=dask_address,
                                 tags=parse_tags(tag), step_timeout=step_timeout, actor=by,
                                 partitions=partition_request(partition, partitions),
                                 run_id=run_id, trigger=trigger, claim_timeout=claim_timeout,
                                 config=run_config(project, config, config_file, config_json))
    with RunView(state.printer, log_format=state.log_format, verbose=verbose) as view:
        summary = run_materialize(project, options, sink=view)
    render_summary(state, summary)
    raise typer.Exit(summary.exit_code)


def render_summary(state: object, summary: object) -> None:
    """Print a run summary as JSON, a rich table, or plain closing lines."""
    printer = state.printer  # type: ignore[attr-defined]
    if printer.json:
        printer.emit_json(summary.to_dict())  # type: ignore[attr-defined]
        return
    if printer.is_terminal:
        printer.out.print(summary_table(summary, printer.clean))
    printer.line(f"run {summary.run_id} {summary.status.value}: "  # type: ignore
                 + counts_line(summary.counts, summary.duration_s))  # type: ignore
    for outcome in summary.steps:  # type: ignore[attr-defined]
        if outcome.status.value == "waiting_approval":
            printer.line(f"waiting: {outcome.key}: {outcome.reason}")
    for failure in summary.failures:  # type: ignore[attr-defined]
        printer.err.print(printer.clean(f"error: {failure.key}: {failure.reason}"),
                          style="red", markup=False, highlight=False)
        if failure.hint:
            printer.err.print(printer.clean(f"  hint: {failure.hint}"), markup=False)
    if summary.failures:  # type: ignore[attr-defined]
        printer.err.print(f"  see: flowstone runs show {summary.run_id}",  # type: ignore
                          markup=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(materialize)

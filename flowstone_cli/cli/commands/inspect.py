"""Commands that read a project without running it: init, check, list, show, plan, graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from flowstone_cli.cli.state import (
    CliState,
    ExcludeOpt,
    JsonOpt,
    PartitionOpt,
    PartitionRangeOpt,
    SelectionArg,
    state_of,
)
from flowstone_cli.errors import ExitCode, UsageError

# The API (and with it pydantic, the project loader and the planner) is imported inside each
# command, lazily: `flowstone --help` must start in well under 0.3 s.


def load(state: CliState) -> Any:
    """Open the project named by the global options, once per command."""
    from flowstone_cli.api import project as project_api

    if state.project_obj is None:
        state.project_obj = project_api.open_project(state.project)
        state.printer.secrets = state.project_obj.secrets
    return state.project_obj


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    template: Annotated[str, typer.Option("--template", "-t", metavar="NAME",
                                          help="Template to start from.")] = "default",
    name: Annotated[str | None, typer.Option("--name", metavar="NAME",
                                             help="Project name (default: the folder "
                                             "name).")] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Create a new project folder from a template."""
    from flowstone_cli.project.scaffold import create_project

    state = state_of(ctx, json_flag=json_flag)
    target = create_project(directory, template, name=name)
    if state.json:
        state.printer.emit_json({"created": str(target), "template": template})
        return
    state.printer.line(f"Created project in {target} from template `{template}`.")
    state.printer.line(f"Next: cd {directory} && flowstone check && flowstone materialize '*'")


def templates(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """List the templates `flowstone init --template` accepts."""
    from flowstone_cli.project.scaffold import available_templates

    state = state_of(ctx, json_flag=json_flag)
    names = available_templates()
    if state.json:
        state.printer.emit_json(names)
    else:
        for template_name in names:
            state.printer.line(template_name)


def check(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """Validate the project: config, modules and definitions. Lists every problem at once."""
    from flowstone_cli.api import project as project_api

    state = state_of(ctx, json_flag=json_flag)
    result = project_api.check_project(state.project)
    if result.report.project is not None:
        state.printer.secrets = result.report.project.secrets
    if state.json:
        state.printer.emit_json(result.to_dict())
    elif result.ok:
        state.printer.line(f"OK: {result.asset_count} assets in {result.root} "
                           "(no problems found)")
    else:
        state.printer.problems(result.problems)
        state.printer.err.print(f"{len(result.problems)} problem(s) found in {result.root}",
                                style="red", markup=False)
    if not result.ok:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def list_assets(ctx: typer.Context,
                selection: Annotated[list[str] | None, typer.Argument(
                    help="Only what this selection resolves to (see `flowstone help "
                    "selection`).", metavar="[SELECTOR]...", show_default=False)] = None,
                exclude: ExcludeOpt = None,
                tenant: Annotated[str | None, typer.Option(
                    "--tenant", metavar="TENANT",
                    help="Only assets partitioned by this tenant.")] = None,
                json_flag: JsonOpt = False) -> None:
    """List the project's assets, or what a selection resolves to (and why each is in).
    """
    from flowstone_cli.api import project as project_api

    state = state_of(ctx, json_flag=json_flag)
    assets = project_api.list_assets(load(state), tenant=tenant, selection=selection or (),
                                     exclude=exclude or ())
    if state.json:
        state.printer.emit_json(assets)
        return
    rows = [(a["name"], a["group"], ",".join(f"{k}={v}" if v else k for k, v in a["tags"].items()),
             ", ".join(a["deps"]), a["io_manager"], a["partitions"] or "", a["description"])
            + ((a["included"],) if selection else ())
            for a in assets]
    state.printer.table(["asset", "group", "tags", "deps", "io_manager", "partitions",
                         "description"] + (["included because"] if selection else []), rows,
                        title=f"{len(assets)} assets")


def show(ctx: typer.Context, asset: Annotated[str, typer.Argument(help="Asset name.")],
         json_flag: JsonOpt = False) -> None:
    """Show one asset in detail."""
    from flowstone_cli.api import project as project_api

    state = state_of(ctx, json_flag=json_flag)
    data = project_api.show_asset(load(state), asset)
    if state.json:
        state.printer.emit_json(data)
        return
    for key, value in data.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value)) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        state.printer.line(f"{key:>13}: {'-' if value in (None, '') else value}")


def plan(ctx: typer.Context, selection: SelectionArg, exclude: ExcludeOpt = None,
         partition: PartitionOpt = None, partitions: PartitionRangeOpt = None,
         force: Annotated[bool, typer.Option("--force", help="Plan as materialize --force "
                                             "would.")] = False,
         json_flag: JsonOpt = False) -> None:
    """Show the steps a selection covers, in order: run or skip, why, and why included."""
    from flowstone_cli.api import plans as plans_api
    from flowstone_cli.cli.commands.run import partition_request

    state = state_of(ctx, json_flag=json_flag)
    result = plans_api.make_plan(load(state), selection, exclude or (), force=force,
                                 partitions=partition_request(partition, partitions))
    if state.json:
        state.printer.emit_json({"steps": [s.to_dict() for s in result.steps]})
        return
    rows = [(i, str(s.key), s.action.value, s.reason, s.included_because)
            for i, s in enumerate(result.steps, 1)]
    state.printer.table(["#", "step", "action", "reason", "included because"], rows,
                        title=f"plan: {len(result.steps)} steps")


def graph(ctx: typer.Context,
          fmt: Annotated[str, typer.Option("--format", "-f", metavar="text|mermaid|dot",
                                           help="text, mermaid or dot")] = "text",
          selection: Annotated[list[str] | None, typer.Argument(
              metavar="SELECTOR",
              help="Restrict to a selection (default: every asset).")] = None) -> None:
    """Print the asset graph as text, Mermaid or Graphviz dot."""
    from flowstone_cli.api import plans as plans_api
    from flowstone_cli.planning.graph_export import GRAPH_FORMATS

    state = state_of(ctx)
    if fmt not in GRAPH_FORMATS:
        raise UsageError(f"unknown graph format `{fmt}`",
                         hint=f"Use one of: {', '.join(GRAPH_FORMATS)}.")
    text = plans_api.graph(load(state), fmt, selection or ["*"])
    if state.json:
        state.printer.emit_json({"format": fmt, "graph": text})
    else:
        state.printer.plain(text)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(init)
    app.command()(templates)
    app.command()(check)
    app.command("list")(list_assets)
    app.command()(show)
    app.command()(plan)
    app.command()(graph)


"""The `flowstone` command: global options, command registration and error handling."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from flowstone_cli._version import __version__
from flowstone_cli.cli import examples, help_format, help_topics
from flowstone_cli.cli.commands import register_commands
from flowstone_cli.cli.output import Printer
from flowstone_cli.cli.state import CliState
from flowstone_cli.errors import ExitCode, FlowStoneError

help_format.apply()

app = typer.Typer(
    name="flowstone",
    help="Asset-first data orchestration that lives on the command line.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flowstone {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    project: Annotated[Path | None, typer.Option(
        "--project", "-p", help="Project folder (default: $FLOWSTONE_PROJECT, then the nearest "
        "parent holding flowstone.toml).", show_default=False)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    log_format: Annotated[str, typer.Option("--log-format", metavar="text|json",
                                            help="text or json",
                                            show_default=True)] = "text",
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Asset-first data orchestration that lives on the command line."""
    del version
    ctx.obj = CliState(project=project, json=json_out, debug=debug, log_format=log_format,
                       printer=Printer(json_mode=json_out))


register_commands(app)
help_topics.register(app)
examples.attach(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and turn errors into messages and documented exit codes."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    printer = Printer(json_mode="--json" in args)
    try:
        result = app(args=args, prog_name="flowstone", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except FlowStoneError as exc:
        if debug:
            traceback.print_exc()
        printer.error(exc)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        printer.err.print("aborted", style="red")
        return 130
    except typer.TyperException as exc:
        # Usage errors (unknown option, missing argument...): typer prints usage and the error.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            printer.err.print(printer.clean(f"error: {exc}"), style="red", markup=False)
        return int(getattr(exc, "exit_code", ExitCode.BAD_INPUT) or ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        printer.err.print("interrupted", style="red")
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: never a raw traceback without --debug
        if debug:
            traceback.print_exc()
        printer.err.print(printer.clean(f"internal error: {type(exc).__name__}: {exc}"),
                          style="red", markup=False)
        printer.err.print("  hint: run again with --debug for the traceback, and report it.",
                          markup=False)
        return int(ExitCode.STEP_FAILED)

"""The console-script entry point, kept import-light.

Importing the CLI (typer, rich, our commands) takes a moment; a Ctrl-C during that moment must
be a quiet exit 130 like any other interruption, not a Python traceback.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Import the CLI and run it; exit with its code."""
    try:
        from flowstone_cli.cli.main import main  # noqa: PLC0415 - the whole point is to defer it

        code = main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 130
    sys.exit(code)

"""`python -m flowstone_cli`: the same as the `flowstone` command."""

from flowstone_cli.cli.entry import run

run()

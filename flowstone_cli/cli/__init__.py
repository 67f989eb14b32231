"""The typer command-line interface: parse options, call `flowstone_cli.api`, render with rich or JSON.

The only package that imports typer or rich; it holds no business logic.
"""

"""Printing for the CLI: rich on a terminal, plain lines without one, JSON with `--json`."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from flowstone_cli.errors import FlowStoneError, Problem
from flowstone_cli.redaction import NO_SECRETS, Redactor


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


# C0 controls but newline and tab, DEL, and C1 controls: ESC sequences set window titles, clear the
# screen or rewrite earlier lines. Text output shows them as visible `\x1b` escapes instead.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7f, 0xa0))
             if c not in (0x09, 0x0a)}
_HAS_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """`text` with terminal control characters (but newline and tab) written as `\\xNN`."""
    # The search is a fast scan; translating only when needed keeps big outputs cheap.
    return text.translate(_CONTROLS) if _HAS_CONTROL.search(text) else text


class Printer:
    """Writes command output; knows whether JSON was asked for and which secrets to hide."""

    def __init__(self, *, json_mode: bool = False) -> None:
        self.json = json_mode
        self.redactor: Redactor = NO_SECRETS
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        """Console on stdout (created on first use)."""
        if self._out is None:
            self._out = Console(highlight=False, soft_wrap=True)
        return self._out

    @property
    def err(self) -> Console:
        """Console on stderr (created on first use)."""
        if self._err is None:
            self._err = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._err

    @property
    def is_terminal(self) -> bool:
        """True when stdout is an interactive terminal."""
        return sys.stdout.isatty()

    @property
    def secrets(self) -> frozenset[str]:
        """The resolved secrets this printer hides."""
        return self.redactor.secrets

    @secrets.setter
    def secrets(self, values: frozenset[str]) -> None:
        self.redactor = Redactor(values)

    def clean(self, text: str) -> str:
        """`text` with every resolved secret (raw or JSON-escaped) replaced by `***` and terminal
        control characters escaped (for text output; JSON escapes them itself)."""
        return escape_controls(self.redactor.text(text) if self.redactor else text)

    def to_json(self, data: Any, *, indent: int | None = None) -> str:
        """`data` as JSON text, its values redacted before serialising (and the text after)."""
        text = json.dumps(self.redactor.value(data), default=_default, indent=indent,
                          sort_keys=False)
        return self.redactor.text(text) if self.redactor else text

    def emit_json(self, data: Any) -> None:
        """Print `data` as one JSON document on stdout."""
        text = self.to_json(data, indent=2)  # json escapes control characters itself
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """Print one line (rich markup is not interpreted)."""
        self.out.print(self.clean(text), style=style, markup=False, highlight=False)

    def plain(self, text: str) -> None:
        """Write text to stdout exactly, without rich's wrapping (for large outputs)."""
        sys.stdout.write(self.clean(text) + ("" if text.endswith("\n") else "\n"))

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
              title: str | None = None) -> None:
        """Print a table: rich on a terminal, tab-separated text otherwise (fast for big ones)."""
        rows = [["" if v is None else str(v) for v in row] for row in rows]
        if not self.is_terminal:
            lines = ["\t".join(columns)] + ["\t".join(r) for r in rows]
            self.plain("\n".join(lines))
            return
        table = Table(title=title, show_lines=False, header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[self.clean(v) for v in row])
        self.out.print(table)

    def problems(self, problems: Sequence[Problem]) -> None:
        """Print problems, one block each: location, message, hint."""
        for problem in problems:
            where = f"{problem.location}: " if problem.location else ""
            self.err.print(self.clean(f"error: {where}{problem.message}"), style="red",
                           markup=False, highlight=False)
            if problem.hint:
                self.err.print(self.clean(f"  hint: {problem.hint}"), markup=False,
                               highlight=False)

    def error(self, exc: FlowStoneError) -> None:
        """Print a FlowStone error (JSON on stdout in `--json` mode, else message + hint)."""
        if self.json:
            self.emit_json({"error": exc.to_dict()})
            return
        problems = getattr(exc, "problems", ())
        if problems:
            self.problems(problems)
            self.err.print(self.clean(f"{len(problems)} problem(s) found"), style="red",
                           markup=False)
            return
        if int(exc.exit_code) == 0:  # e.g. nothing selected: information, not a failure
            self.err.print(self.clean(exc.message), markup=False, highlight=False)
            return
        self.err.print(self.clean(f"error: {exc.message}"), style="red", markup=False,
                       highlight=False)
        if exc.hint:
            self.err.print(self.clean(f"  hint: {exc.hint}"), markup=False, highlight=False)

"""Help that reads like a command line, not like Python.

Typer renders the type of each parameter from its Python annotation (`<bool>`, `<list[str]>`,
`<int range>`) and writes required arguments as `{name}` in the usage line. This module changes
that rendering once, when the app is built: flags show no type, options show their metavar (or a
plain word: N, NUMBER, PATH, TEXT, choices `a|b`), arguments show their metavar in upper case,
and the usage line reads `flowstone materialize [OPTIONS] SELECTOR...`.

It relies on Typer's own parameter classes (`typer.core.TyperOption` / `TyperArgument`), whose
methods are stable across the 0.29 series pinned in pyproject.toml. Each override is guarded: if
a future Typer lacks the method, the default rendering stays.
"""

from __future__ import annotations

from typing import Any

from typer import core as typer_core

_APPLIED = False


def _plain_type(param: Any, ctx: Any) -> str | None:
    """The word shown for an option's value when it has no metavar."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return "TEXT"
    if desc.is_choice:
        return "|".join(str(choice) for choice in desc.choices or ())
    if desc.is_path:
        return "PATH"
    if desc.is_datetime:
        return "DATE"
    annotation = desc.annotation
    element = getattr(annotation, "__args__", (annotation,))[0] if desc.is_list else annotation
    if element is int:
        return "N"
    if element is float:
        return "NUMBER"
    return "TEXT"


def _option_type(self: Any, ctx: Any) -> str | None:
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    if self.metavar is not None:
        return str(self.metavar)
    return _plain_type(self, ctx)


def _argument_type(self: Any, ctx: Any) -> str | None:
    del self, ctx
    return None  # the name column already says SELECTOR, RUN_ID...


def _argument_name(self: Any) -> str:
    return str(self.metavar) if self.metavar is not None else str(self.name).upper()


def _argument_usage(self: Any) -> str:
    name = _argument_name(self)
    if "[" in name or "..." in name:
        return name  # a metavar that already spells its brackets: [RUN_ID]...
    if not self.required:
        name = f"[{name}]"
    if self.nargs != 1:
        name += "..."
    return name


def _argument_rich_name(self: Any) -> str:
    name = _argument_name(self)
    if "..." in name:
        return name
    return name + "..." if self.nargs != 1 else name


def _no_range(self: Any) -> None:
    del self
    return None  # ranges are said in the help text ("at least 1"), not as [x>=1]


def apply() -> None:
    """Install the rendering once; safe to call again."""
    global _APPLIED
    if _APPLIED:
        return
    option = getattr(typer_core, "TyperOption", None)
    argument = getattr(typer_core, "TyperArgument", None)
    if option is not None and hasattr(option, "display_type_rich"):
        option.display_type_rich = _option_type
    if option is not None and hasattr(option, "_get_number_range_help_str"):
        option._get_number_range_help_str = _no_range
    if argument is not None:
        if hasattr(argument, "display_type_rich"):
            argument.display_type_rich = _argument_type
        if hasattr(argument, "_usage_display_name"):
            argument._usage_display_name = _argument_usage
        if hasattr(argument, "_rich_display_name"):
            argument._rich_display_name = _argument_rich_name
        if hasattr(argument, "display_name_raw"):
            argument.display_name_raw = property(_argument_name)
        if hasattr(argument, "_get_number_range_help_str"):
            argument._get_number_range_help_str = _no_range
    _APPLIED = True

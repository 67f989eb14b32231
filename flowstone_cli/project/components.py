"""Load-time checks of `[resources.*]` and `[io_managers.*]`: their types and their fields.

`flowstone.toml` is validated key by key when it is read, but a resource's fields belong to its
class and an I/O manager's options to its constructor, so they can only be checked once the
project's own package can be imported. This module does that while the project loads, so a
misspelled field (`bsae = "EUR"`) or an unknown manager `type` is a `flowstone check` problem
with file, line and a did-you-mean, not a failure in the middle of a run. Nothing is set up and
no value is shown: messages name fields, never their (possibly secret) values.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flowstone_cli.errors import ConfigError, Problem
from flowstone_cli.io.registry import (
    BUILTIN_IO_MANAGERS,
    accepted_options,
    resolve_io_manager_class,
)
from flowstone_cli.project.config import CONFIG_FILE, FlowStoneConfig, _line_of
from flowstone_cli.project.imports import import_module_for_project, import_object
from flowstone_cli.resources.base import Resource
from flowstone_cli.resources.registry import builtin_resource_class


def component_problems(root: Path, config: FlowStoneConfig, package: str) -> list[Problem]:
    """Every problem with a configured resource or I/O manager (types, fields, options)."""
    path = root / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = ""
    source = str(path)

    def where(*keys: str) -> str:
        line = _line_of(text, keys)
        return f"{source}:{line}" if line else source

    problems: list[Problem] = []
    for name, section in config.resources.items():
        problems += _resource_problems(name, section.type, section.fields, package, where)
    for name, section in config.io_managers.items():
        problems += _io_manager_problems(name, section.type, section.options, package, where)
    return problems


def _resource_problems(name: str, type_name: str, fields: Mapping[str, Any], package: str,
                       where: Any) -> list[Problem]:
    section = f"resources.{name}"
    try:
        cls = builtin_resource_class(type_name) or import_object(
            type_name, package=package, what=f"resource `{name}`")
    except ConfigError as exc:
        return [Problem("config_invalid_value", f"`{section}.type` in {CONFIG_FILE}: "
                        f"{exc.message}", where("resources", name, "type"), exc.hint)]
    if not (isinstance(cls, type) and issubclass(cls, Resource)):
        return [Problem("config_invalid_value", f"`{section}.type` in {CONFIG_FILE}: "
                        f"`{type_name}` is not a subclass of flowstone_cli.Resource",
                        where("resources", name, "type"),
                        "Derive the class from flowstone_cli.Resource.")]
    values = dict(fields)
    if "state_dir" in cls.model_fields and "state_dir" not in values:
        values["state_dir"] = ".flowstone"  # filled in by the runtime (see execution/assembly.py)
    try:
        cls.model_validate(values)
    except ValidationError as exc:
        known = list(cls.model_fields)
        return [_field_problem(section, error, known, where) for error in exc.errors()]
    return []


def _field_problem(section: str, error: Mapping[str, Any], known: list[str],
                   where: Any) -> Problem:
    loc = [str(part) for part in error.get("loc", ())]
    key = ".".join([section, *loc])
    location = where(*section.split("."), *loc[:1])
    if error.get("type") == "extra_forbidden":
        return Problem("config_unknown_key", f"unknown key `{key}` in {CONFIG_FILE}", location,
                       _did_you_mean(loc[-1] if loc else "", known, "fields"))
    if error.get("type") == "missing":
        return Problem("config_missing_key", f"missing key `{key}` in {CONFIG_FILE}", location,
                       f"Add it to [{section}].")
    return Problem("config_invalid_value", f"`{key}` in {CONFIG_FILE}: {error.get('msg')}",
                   location, f"Fix it in [{section}].")


def _io_manager_problems(name: str, type_name: str, options: Mapping[str, Any], package: str,
                         where: Any) -> list[Problem]:
    section = f"io_managers.{name}"
    try:
        cls = resolve_io_manager_class(
            type_name, import_module=lambda module: import_module_for_project(module, package))
    except ConfigError as exc:
        hint = exc.hint
        if ":" not in type_name:
            hint = _did_you_mean(type_name, list(BUILTIN_IO_MANAGERS), "built-in types") + \
                " For your own class write 'package.module:ClassName'."
        return [Problem("config_invalid_value", f"`{section}.type` in {CONFIG_FILE}: "
                        f"{exc.message}", where("io_managers", name, "type"), hint)]
    accepted, takes_any = accepted_options(cls)
    if takes_any:
        return []
    return [Problem("config_unknown_key", f"unknown key `{section}.{option}` in {CONFIG_FILE}: "
                    f"I/O manager type {type_name!r} has no such option",
                    where("io_managers", name, option),
                    _did_you_mean(option, sorted(accepted | {"root", "storage_options"}),
                                  "options"))
            for option in sorted(set(options) - accepted)]


def _did_you_mean(word: str, known: Iterable[str], what: str) -> str:
    names = list(known)
    close = difflib.get_close_matches(word, names, n=1)
    if close:
        return f"Did you mean `{close[0]}`?"
    return f"Known {what}: {', '.join(names)}." if names else f"It takes no {what}."

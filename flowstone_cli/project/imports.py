"""Importing `module:Class` references named in flowstone.toml."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from flowstone_cli.errors import ConfigError


def import_module_for_project(module: str, package: str) -> ModuleType:
    """Import `module`, preferring a module of the project (`<package>.<module>`) over an
    installed one with the same name."""
    if package and package in sys.modules:
        try:
            return importlib.import_module(f"{package}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith(package):
                raise
    return importlib.import_module(module)


def import_object(reference: str, *, package: str, what: str) -> Any:
    """Resolve `"package.module:Name"` (see `import_module_for_project`).

    Raises:
        ConfigError: the reference is malformed, or the module or name cannot be imported.
    """
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what}: `{reference}` is not a `module:Class` reference",
                          hint="Write it like \"my_module:MyClass\".")
    try:
        module = import_module_for_project(module_name, package)
    except Exception as exc:  # noqa: BLE001 - user module: report any import failure
        raise ConfigError(f"{what}: cannot import module `{module_name}`: "
                          f"{type(exc).__name__}: {exc}",
                          hint="Put the module in the project folder or install it.") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{what}: module `{module_name}` has no `{attr}`",
                          hint="Check the class name.") from None

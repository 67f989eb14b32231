"""Finding and building I/O managers by the type name configuration gives.

`[io_managers.NAME] type = "parquet"` names a built-in; `type = "package.module:ClassName"`
names a user's `IOManager` subclass. Importing this module does not import pyarrow or duckdb:
the managers import them when they first store or load.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from flowstone_cli.errors import ConfigError
from flowstone_cli.io.base import IOManager
from flowstone_cli.io.duckdb_manager import DuckDBIOManager
from flowstone_cli.io.failures import describe_cause
from flowstone_cli.io.filesystems import scrub, secret_strings
from flowstone_cli.io.json_manager import JsonIOManager
from flowstone_cli.io.memory_manager import MemoryIOManager
from flowstone_cli.io.parquet_manager import ParquetIOManager
from flowstone_cli.io.pickle_manager import PickleIOManager
from flowstone_cli.io.postgres import PostgresIOManager

BUILTIN_IO_MANAGERS: Mapping[str, type[IOManager]] = MappingProxyType({
    "pickle": PickleIOManager,
    "json": JsonIOManager,
    "parquet": ParquetIOManager,
    "duckdb": DuckDBIOManager,
    "memory": MemoryIOManager,
})
"""The built-in I/O manager classes by type name; `pickle` is the default."""

CONFIGURED_IO_MANAGERS: Mapping[str, type[IOManager]] = MappingProxyType({
    "postgres": PostgresIOManager,
})
"""Built-in types that need options (a DSN), so they exist only as `[io_managers.NAME]`."""

_BUILTIN_LIST = ", ".join([*BUILTIN_IO_MANAGERS, *CONFIGURED_IO_MANAGERS])


def resolve_io_manager_class(
        type_name: str, *,
        import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> type[IOManager]:
    """The `IOManager` class for a configured type name.

    Args:
        type_name: a built-in name (`pickle`, `json`, `parquet`, `duckdb`, `memory`,
            `postgres`) or
            `"package.module:ClassName"` for a user class.
        import_module: how modules are imported (the project loader passes one that imports
            from the project's own package).

    Raises:
        ConfigError: the name is unknown, the module cannot be imported, or the attribute is not
            a concrete `IOManager` subclass.
    """
    if not isinstance(type_name, str) or not type_name.strip():
        raise ConfigError(f"I/O manager type {type_name!r} is empty or not a string",
                          hint=f"Use one of {_BUILTIN_LIST}, or 'package.module:ClassName'.")
    builtin = BUILTIN_IO_MANAGERS.get(type_name) or CONFIGURED_IO_MANAGERS.get(type_name)
    if builtin is not None:
        return builtin
    if ":" not in type_name:
        raise ConfigError(f"unknown I/O manager type {type_name!r}; the built-in types are "
                          f"{_BUILTIN_LIST}",
                          hint="Use a built-in type, or 'package.module:ClassName' for your own "
                               "IOManager subclass.")
    module_name, _, attribute = type_name.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"I/O manager type {type_name!r} is not of the form "
                          "'package.module:ClassName'", hint="For example 'my_io.stores:S3Store'.")
    try:
        module = import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure of user code at import is a config error
        raise ConfigError(f"could not import module {module_name!r} for I/O manager type "
                          f"{type_name!r}: {describe_cause(exc)}",
                          hint="Check the module path and that the module imports cleanly.",
                          ) from exc
    candidate = module
    for part in attribute.split("."):
        candidate = getattr(candidate, part, None)
        if candidate is None:
            raise ConfigError(f"module {module_name!r} has no attribute {attribute!r} (I/O "
                              f"manager type {type_name!r})",
                              hint="Check the class name after the ':'.")
    if not (isinstance(candidate, type) and issubclass(candidate, IOManager)):
        raise ConfigError(f"{type_name!r} is not a subclass of flowstone_cli.io.IOManager",
                          hint="Subclass flowstone_cli.io.IOManager and implement store, load, "
                               "exists and delete.")
    if inspect.isabstract(candidate):
        missing = ", ".join(sorted(candidate.__abstractmethods__))
        raise ConfigError(f"I/O manager class {type_name!r} does not implement {missing}",
                          hint="Implement every abstract method of IOManager.")
    return candidate


def accepted_options(cls: type[IOManager]) -> tuple[set[str], bool]:
    """Keyword options `cls` accepts beyond root/storage_options, and whether it takes **kw."""
    parameters = inspect.signature(cls).parameters.values()
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    names = {p.name for p in parameters
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
             and p.name not in ("root", "storage_options")}
    return names, takes_any


def create_io_manager(cls: type[IOManager], *, root: str,
                      storage_options: Mapping[str, Any] | None,
                      options: Mapping[str, Any]) -> IOManager:
    """Instantiate `cls` rooted at `root` with its configured options.

    Raises:
        ConfigError: an option is not accepted by `cls` (named in the message), or the class
            refused an option's value.
    """
    accepted, takes_any = accepted_options(cls)
    unknown = sorted(set(options) - accepted)
    if unknown and not takes_any:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise ConfigError(f"I/O manager type {cls.type_name!r} does not accept option(s) "
                          f"{', '.join(map(repr, unknown))}",
                          hint=f"Options it accepts: {allowed}.")
    try:
        return cls(root, storage_options=storage_options, **dict(options))
    except TypeError as exc:
        # Python names the offending keyword ("unexpected keyword argument 'x'").
        cause = scrub(describe_cause(exc), secret_strings(storage_options))
        raise ConfigError(f"I/O manager type {cls.type_name!r} rejected its options: {cause}",
                          hint="Check the option names and types in flowstone.toml.") from exc

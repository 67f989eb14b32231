"""Built-in resource types, named by a short `type` in `[resources.NAME]`."""

from __future__ import annotations

from importlib import import_module

STATE_DIR = ".flowstone"
LIMITS_FILE = "ratelimits.sqlite"

BUILTIN_RESOURCES = {
    "http_api": "flowstone_cli.resources.http_api:HttpApi",
}


def builtin_resource_class(type_name: str) -> type | None:
    """The class of a built-in resource type, or None when `type_name` is not one."""
    reference = BUILTIN_RESOURCES.get(type_name)
    if reference is None:
        return None
    module, _, name = reference.partition(":")
    return getattr(import_module(module), name)

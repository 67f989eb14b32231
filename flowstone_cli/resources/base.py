"""`Resource`: an external system an asset declares in `requires=` and receives on its context.

A resource class is a pydantic model: its fields are validated from `[resources.NAME]` in
`flowstone.toml`. `setup()` runs once per worker process, the first time a step needs it, and
returns the object assets receive (the resource itself by default); `teardown()` runs when the
process is done; `health_check()` backs `flowstone resources check`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from flowstone_cli.errors import ConfigError, ResourceError


class Resource(BaseModel):
    """Base class for resources. Subclass it and declare configuration fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def setup(self) -> Any:
        """Open connections or clients. The return value is what assets receive
        (return None to hand them the resource itself)."""
        return None

    def teardown(self, value: Any) -> None:
        """Close what `setup` opened. `value` is what `setup` returned."""
        del value

    def health_check(self) -> str | None:
        """Raise, or return a problem description, when the resource is not usable."""
        return None

    def __repr_args__(self) -> list[tuple[str | None, Any]]:
        # Field values may be resolved secrets: never show them in reprs, logs or errors.
        return [(name, "***") for name in type(self).model_fields]


def build_resource(name: str, cls: type, fields: Mapping[str, Any]) -> Resource:
    """Validate `[resources.NAME]` fields into an instance of `cls`.

    Raises:
        ConfigError: `cls` is not a Resource, or a field is missing, unknown or of a wrong type
            (the message names the field, never its value).
    """
    if not (isinstance(cls, type) and issubclass(cls, Resource)):
        raise ConfigError(f"resource `{name}`: {getattr(cls, '__name__', cls)!s} is not a "
                          "subclass of flowstone_cli.Resource",
                          hint="Derive the class from flowstone_cli.Resource.")
    try:
        return cls.model_validate(dict(fields))
    except ValidationError as exc:
        details = "; ".join(f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"resource `{name}` ({cls.__name__}) has invalid configuration: "
                          f"{details}", hint=f"Fix [resources.{name}] in flowstone.toml.") from None


@dataclass
class _Live:
    resource: Resource
    value: Any


class ResourceSet:
    """The resources of one process, set up lazily on first use and torn down together."""

    def __init__(self, resources: Mapping[str, Resource]) -> None:
        self._resources = dict(resources)
        self._live: dict[str, _Live] = {}

    def names(self) -> list[str]:
        """Configured resource names."""
        return list(self._resources)

    def get(self, name: str) -> Any:
        """The set-up value of resource `name`, setting it up on first use.

        Raises:
            ResourceError: the resource is unknown or its setup failed.
        """
        live = self._live.get(name)
        if live is not None:
            return live.value
        resource = self._resources.get(name)
        if resource is None:
            raise ResourceError(f"resource `{name}` is not configured",
                                hint=f"Add [resources.{name}] to flowstone.toml.")
        try:
            value = resource.setup()
        except Exception as exc:  # noqa: BLE001 - user code; re-raised as a named error
            raise ResourceError(f"setting up resource `{name}` failed: {type(exc).__name__}: "
                                f"{exc}", hint="Check the resource's configuration and that "
                                               "the system it connects to is reachable.",
                                retryable=True) from exc
        self._live[name] = _Live(resource, resource if value is None else value)
        return self._live[name].value

    def live(self) -> dict[str, Any]:
        """The values of the resources set up so far in this process, by name."""
        return {name: live.value for name, live in self._live.items()}

    def teardown(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        """Tear down every set-up resource, in reverse order; errors go to `on_error`."""
        for name in reversed(list(self._live)):
            live = self._live.pop(name)
            try:
                live.resource.teardown(live.value)
            except Exception as exc:  # noqa: BLE001 - a failing teardown must not hide others
                if on_error is not None:
                    on_error(name, exc)

    def health(self) -> dict[str, str | None]:
        """Run every health check: name -> None when healthy, else the problem."""
        report: dict[str, str | None] = {}
        for name, resource in self._resources.items():
            try:
                problem = resource.health_check()
            except Exception as exc:  # noqa: BLE001 - reported per resource
                problem = f"{type(exc).__name__}: {exc}"
            report[name] = problem
        return report

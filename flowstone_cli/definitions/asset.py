"""The `@asset` decorator and the frozen `AssetSpec` it returns."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, overload

from flowstone_cli.definitions.code_version import function_code_version
from flowstone_cli.definitions.output import RetryPolicy
from flowstone_cli.definitions.run_config import check_config_model
from flowstone_cli.errors import DefinitionError, Problem

CONTEXT_PARAM = "context"
DEFAULT_IO_MANAGER = "pickle"
DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class AssetSpec:
    """Everything FlowStone knows about one asset, fixed when its module is imported.

    Attributes:
        name: unique asset name (a Python identifier).
        fn: the user's function that computes the value.
        inputs: names of the function's data parameters, i.e. upstream assets whose values it
            receives, in parameter order.
        deps: ordering-only dependencies (`deps=[...]`): run after them, receive nothing.
        wants_context: whether the function takes a `context` parameter.
        io_manager: name of the I/O manager that stores the value.
        partitions: a partitions definition, or None when the asset is not partitioned.
        partition_mappings: upstream name -> partition mapping, for inputs whose partitions
            do not map one-to-one.
        description: free text; defaults to the first paragraph of the docstring.
        group: group name used by `group:NAME` selection.
        tags: string key/value labels used by `tag:KEY=VALUE` selection.
        requires: names of resources the function receives on `context.resources`.
        retry: how failures are retried; None means one attempt.
        explicit_code_version: a version string given by the user, if any.
        timeout: a duration string after which a running step is killed, or None.
        max_age: a duration string after which a materialization counts as stale, or None.
        cross_tenant: allows reading partitions of other tenants.
        pool: the `[pools]` entry that limits how many steps of this asset (and others of the
            same pool) run at once on the machine, or None.
        file: the file that defines the function.
        line: the line of the definition.
        bad_params: parameters that cannot be dependencies (`*args`, `**kwargs`, positional-only).
        config: a pydantic model class of the run configuration (`context.config`), or None.
    """

    name: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    inputs: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    wants_context: bool = False
    io_manager: str = DEFAULT_IO_MANAGER
    partitions: Any = None
    partition_mappings: Mapping[str, Any] = field(default_factory=dict, compare=False)
    description: str = ""
    group: str = DEFAULT_GROUP
    tags: Mapping[str, str] = field(default_factory=dict, compare=False)
    requires: tuple[str, ...] = ()
    retry: RetryPolicy | None = None
    explicit_code_version: str | None = None
    timeout: str | None = None
    max_age: str | None = None
    cross_tenant: bool = False
    pool: str | None = None
    file: str = ""
    line: int = 0
    bad_params: tuple[str, ...] = ()
    config: Any = field(default=None, compare=False)

    kind = "asset"

    @property
    def location(self) -> str:
        """`file:line` of the definition."""
        return f"{self.file}:{self.line}" if self.file else ""

    @property
    def upstream(self) -> tuple[str, ...]:
        """All upstream asset names: data inputs first, then ordering-only dependencies."""
        return tuple(dict.fromkeys(self.inputs + self.deps))

    @cached_property
    def code_version(self) -> str:
        """The explicit `code_version`, or a hash of the function's code (computed lazily)."""
        return self.explicit_code_version or function_code_version(self.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (handy in users' unit tests)."""
        return self.fn(*args, **kwargs)


def _split_params(fn: Callable[..., Any]) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    inputs: list[str] = []
    bad: list[str] = []
    wants_context = False
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            bad.append(param.name)
        elif param.name == CONTEXT_PARAM:
            wants_context = True
        else:
            inputs.append(param.name)
    return tuple(inputs), wants_context, tuple(bad)


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n", 1)[0].replace("\n", " ").strip()


def _names(value: Iterable[str] | str | None, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise DefinitionError([Problem("bad_argument", f"{what} must be names (strings), "
                                           f"got {item!r}", where)])
    return items


def build_asset_spec(fn: Callable[..., Any], *, name: str | None = None,
                     deps: Iterable[str] | None = None, io_manager: str | None = None,
                     partitions: Any = None, partition_mappings: Mapping[str, Any] | None = None,
                     description: str | None = None, group: str | None = None,
                     tags: Mapping[str, str] | None = None, requires: Iterable[str] | None = None,
                     retry: RetryPolicy | None = None, code_version: str | None = None,
                     timeout: str | None = None, max_age: str | None = None,
                     cross_tenant: bool = False, pool: str | None = None,
                     config: Any = None) -> AssetSpec:
    """Make an `AssetSpec` from a function and the `@asset` arguments."""
    if not callable(fn):
        raise DefinitionError([Problem("bad_argument", f"@asset decorates a function, got {fn!r}")])
    code = getattr(fn, "__code__", None)
    file = code.co_filename if code else ""
    line = code.co_firstlineno if code else 0
    where = f"{file}:{line}" if file else ""
    inputs, wants_context, bad = _split_params(fn)
    tag_map = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise DefinitionError([Problem("bad_argument", "tags must map strings to strings, "
                                           f"got {key!r}: {value!r}", where)])
        tag_map[key] = value
    if pool is not None and not isinstance(pool, str):
        raise DefinitionError([Problem("bad_argument", f"pool= takes a pool name, got {pool!r}",
                                       where, "Use pool=\"openai\" with [pools] openai = 4.")])
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise DefinitionError([Problem("bad_argument", f"retry= takes a RetryPolicy, got {retry!r}",
                                       where, "Use retry=RetryPolicy(max_attempts=3).")])
    return AssetSpec(
        name=name or fn.__name__,
        fn=fn,
        inputs=inputs,
        deps=_names(deps, "deps=", where),
        wants_context=wants_context,
        io_manager=io_manager or DEFAULT_IO_MANAGER,
        partitions=partitions,
        partition_mappings=MappingProxyType(dict(partition_mappings or {})),
        description=description if description is not None else _first_paragraph(fn.__doc__),
        group=group or DEFAULT_GROUP,
        tags=MappingProxyType(tag_map),
        requires=_names(requires, "requires=", where),
        retry=retry,
        explicit_code_version=code_version,
        timeout=timeout,
        max_age=max_age,
        cross_tenant=bool(cross_tenant),
        pool=pool,
        file=file,
        line=line,
        bad_params=bad,
        config=check_config_model(config, where) if config is not None else None,
    )


@overload
def asset(fn: Callable[..., Any], /) -> AssetSpec: ...
@overload
def asset(*, name: str | None = None, **kwargs: Any) -> Callable[[Callable[..., Any]], AssetSpec]: ...


def asset(fn: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
    """Declare an asset: a persistent value computed by the decorated function.

    Use bare (`@asset`) or with arguments: `name`, `deps`, `io_manager`, `partitions`,
    `partition_mappings`, `description`, `group`, `tags`, `requires`, `retry`, `code_version`,
    `timeout`, `max_age`, `cross_tenant`, `pool`, `config`. The function's parameters other than
    `context` name the upstream assets whose values it receives.

    Returns:
        A frozen `AssetSpec` (or a decorator that makes one).
    """
    allowed = {"name", "deps", "io_manager", "partitions", "partition_mappings", "description",
               "group", "tags", "requires", "retry", "code_version", "timeout", "max_age",
               "cross_tenant", "pool", "config"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise DefinitionError([Problem("bad_argument", f"@asset got unknown argument(s) "
                                       f"{', '.join(unknown)}",
                                       hint=f"Known arguments: {', '.join(sorted(allowed))}.")])
    if fn is not None:
        return build_asset_spec(fn, **kwargs)

    def decorate(func: Callable[..., Any]) -> AssetSpec:
        return build_asset_spec(func, **kwargs)

    return decorate

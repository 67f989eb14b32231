"""Asset checks: `@asset_check` and the frozen `AssetCheckSpec` it returns, and `CheckResult`.

A check says what correct data looks like, next to the asset. It runs right after its asset's
value is stored, in the same worker, on the value just computed (or, with `flowstone
check-assets`, on the stored value). A failing *blocking* check of severity `error` stops the
value from flowing downstream.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from flowstone_cli.definitions.asset import CONTEXT_PARAM
from flowstone_cli.errors import DefinitionError, Problem

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Severity(StrEnum):
    """How bad a failed check is: `error` may block the downstream, `warn` never does."""

    ERROR = "error"
    WARN = "warn"


@dataclass(frozen=True)
class CheckResult:
    """What a check function returns (a plain `bool` is also accepted).

    Attributes:
        passed: whether the data is correct.
        metadata: JSON-like details kept with the result (e.g. the number of bad rows).
        severity: overrides the check's own severity for this result ("error" or "warn").
        message: one line explaining the result.
    """

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    severity: str | None = None
    message: str = ""


@dataclass(frozen=True)
class AssetCheckSpec:
    """One check of one asset, fixed when its module is imported.

    Attributes:
        name: the check's name, unique per asset (`ASSET.NAME` is its full name).
        asset: the asset it checks.
        fn: called with the asset's value (and `context` when it asks for it).
        blocking: a failure of severity `error` blocks the asset's downstream.
        severity: the default severity of a failure.
        description: free text; defaults to the docstring's first paragraph.
        wants_context: whether `fn` takes a `context` parameter.
        kind: `custom`, or the built-in check's name (`not_null`, `unique`...).
        arguments: the built-in check's arguments, shown by `checks list`.
        problems: argument errors found when the check was declared, reported by `check`.
    """

    name: str
    asset: str
    fn: Callable[..., Any] = field(repr=False, compare=False)
    blocking: bool = False
    severity: Severity = Severity.ERROR
    description: str = ""
    wants_context: bool = False
    kind: str = "custom"
    arguments: Mapping[str, Any] = field(default_factory=dict, compare=False)
    problems: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    @property
    def full_name(self) -> str:
        """`asset.check`."""
        return f"{self.asset}.{self.name}"

    @property
    def location(self) -> str:
        """`file:line` of the declaration."""
        return f"{self.file}:{self.line}" if self.file else ""

    @property
    def blocks(self) -> bool:
        """Whether a failure of the default severity blocks the downstream."""
        return self.blocking and self.severity is Severity.ERROR

    def evaluate(self, value: Any, context: Any = None) -> CheckResult:
        """Run the check on `value`; an exception propagates to the caller."""
        result = self.fn(value, context) if self.wants_context else self.fn(value)
        if isinstance(result, CheckResult):
            return result
        if isinstance(result, bool):
            return CheckResult(passed=result)
        raise TypeError(f"check `{self.full_name}` returned {type(result).__name__}; return "
                        "a bool or a CheckResult")


def _declared_at(fn: Callable[..., Any]) -> tuple[str, int]:
    code = getattr(fn, "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code else ("", 0)


def _caller_location() -> tuple[str, int]:
    # The module line that called a built-in check factory (two frames up from here).
    frame = inspect.currentframe()
    for _ in range(3):
        frame = frame.f_back if frame is not None else None
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else ("", 0)


def build_check_spec(fn: Callable[..., Any], *, asset: str, name: str | None = None,
                     blocking: bool = False, severity: str = "error",
                     description: str | None = None, kind: str = "custom",
                     arguments: Mapping[str, Any] | None = None,
                     problems: tuple[str, ...] = (),
                     location: tuple[str, int] | None = None) -> AssetCheckSpec:
    """Make an `AssetCheckSpec`; argument errors are kept in `problems` for `check`."""
    file, line = location or _declared_at(fn)
    where = f"{file}:{line}" if file else ""
    found = list(problems)
    if not isinstance(asset, str) or not _NAME.fullmatch(asset):
        raise DefinitionError([Problem("bad_argument", f"asset_check(asset=...) takes an asset "
                                       f"name, got {asset!r}", where)])
    check_name = name or getattr(fn, "__name__", "check")
    if not _NAME.fullmatch(check_name):
        found.append(f"check name {check_name!r} is not a valid name (letters, digits, _)")
    try:
        level = Severity(severity)
    except ValueError:
        found.append(f"severity must be 'error' or 'warn', got {severity!r}")
        level = Severity.ERROR
    wants_context = False
    if kind == "custom":
        params = list(inspect.signature(fn).parameters.values())
        data = [p for p in params if p.name != CONTEXT_PARAM]
        wants_context = any(p.name == CONTEXT_PARAM for p in params)
        if len(data) != 1:
            found.append(f"check `{check_name}` must take exactly one parameter for the value of "
                         f"`{asset}` (and optionally `context`), got "
                         f"{', '.join(p.name for p in params) or 'none'}")
        elif wants_context and params[0].name == CONTEXT_PARAM:
            found.append(f"check `{check_name}`: put the value parameter before `context`")
    doc = inspect.getdoc(fn) or ""
    return AssetCheckSpec(
        name=check_name, asset=asset, fn=fn, blocking=bool(blocking), severity=level,
        description=description if description is not None else doc.split("\n\n")[0].strip(),
        wants_context=wants_context, kind=kind,
        arguments=MappingProxyType(dict(arguments or {})), problems=tuple(found),
        file=file, line=line)


def asset_check(*, asset: str, name: str | None = None, blocking: bool = False,
                severity: str = "error", description: str | None = None
                ) -> Callable[[Callable[..., Any]], AssetCheckSpec]:
    """Declare a check of `asset`'s value.

    The decorated function takes the asset's value (and `context`, when it names that
    parameter) and returns a bool or a `CheckResult`. Several checks may name one asset; a
    partitioned asset's checks run per partition.

    Args:
        asset: the asset checked.
        name: the check's name (default: the function's name).
        blocking: when the check fails with severity `error`, the asset's downstream is
            skipped and the value is not current: the next run recomputes it.
        severity: "error" (default) or "warn"; a warning never blocks.
        description: free text (default: the docstring's first paragraph).
    """
    def decorate(fn: Callable[..., Any]) -> AssetCheckSpec:
        return build_check_spec(fn, asset=asset, name=name, blocking=blocking,
                                severity=severity, description=description)

    return decorate

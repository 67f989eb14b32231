"""The `flowstone.toml` model: one small pydantic model per section.

The file only says *where* things live (storage, I/O managers, resources, executor, metadata);
what the assets are is Python. Unknown keys and wrong types are errors naming the key and file.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from flowstone_cli.errors import ConfigError, Problem
from flowstone_cli.keys import is_valid_asset_name
from flowstone_cli.project.interpolate import Interpolator
from flowstone_cli.resources.rate_limiter import parse_rate

CONFIG_FILE = "flowstone.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(_Section):
    """`[project]`: the project's name and where its asset modules live."""

    name: str = Field(min_length=1)
    assets_dir: str = "assets"
    tenant_dimension: str | None = None
    description: str = ""


class StorageSection(_Section):
    """`[storage]`: the root every built-in I/O manager writes under (a path or fsspec URL)."""

    root: str = "data"
    storage_options: dict[str, Any] = Field(default_factory=dict)


class IOManagerSection(BaseModel):
    """`[io_managers.NAME]`: a configured I/O manager; extra keys are the manager's options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1)
    root: str | None = None
    storage_options: dict[str, Any] = Field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        """The manager-specific options (every key other than type, root, storage_options)."""
        return dict(self.model_extra or {})


class ResourceSection(BaseModel):
    """`[resources.NAME]`: `type = "module:Class"` plus fields the resource class validates."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1)

    @property
    def fields(self) -> dict[str, Any]:
        """The resource's own configuration fields."""
        return dict(self.model_extra or {})


class ExecutorSection(_Section):
    """`[executor]`: where steps run by default."""

    type: Literal["process", "inline", "dask"] = "process"
    workers: int | None = Field(default=None, ge=1, le=512)
    start_method: Literal["fork", "spawn", "forkserver"] = "fork"
    step_timeout: str | None = None
    # The Dask scheduler (`tcp://host:8786`); None with type "dask": a local cluster.
    address: str | None = None


class MetadataSection(_Section):
    """`[metadata]`: where the metadata DuckDB file lives and how long to wait for its lock."""

    path: str | None = None
    lock_timeout: float = Field(default=30.0, gt=0)


class TelemetrySection(_Section):
    """`[telemetry]`: where run traces are exported (OTLP/HTTP); environment variables
    `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_HEADERS` take precedence."""

    endpoint: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=5.0, gt=0, le=120)
    service_name: str | None = None


class NotificationSection(_Section):
    """`[notifications.NAME]`: where approval requests and failures are announced."""

    type: Literal["webhook", "command"]
    url: str | None = None
    command: list[str] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    events: list[Literal["checkpoint_requested", "checkpoint_escalated", "checkpoint_decided",
                         "run_failed"]] | None = None
    timeout: float = Field(default=10.0, gt=0)
    on_run_failure: bool = True

    @model_validator(mode="after")
    def _needs_destination(self) -> NotificationSection:
        if self.type == "webhook" and not self.url:
            raise ValueError("a webhook notification needs `url`")
        if self.type == "command" and not self.command:
            raise ValueError("a command notification needs `command` (a list: program and "
                             "arguments)")
        return self


class LimitSection(_Section):
    """`[limits.NAME]`: a rate shared by every process of every run (`context.rate_limit`)."""

    rate: str
    burst: int = Field(default=1, ge=1)

    @field_validator("rate")
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ConfigError as exc:
            raise ValueError(f"{exc.message} (write it like \"60/minute\" or \"50/second\")") \
                from None
        return value


class FlowStoneConfig(_Section):
    """The whole of `flowstone.toml`."""

    project: ProjectSection
    storage: StorageSection = Field(default_factory=StorageSection)
    io_managers: dict[str, IOManagerSection] = Field(default_factory=dict)
    resources: dict[str, ResourceSection] = Field(default_factory=dict)
    executor: ExecutorSection = Field(default_factory=ExecutorSection)
    metadata: MetadataSection = Field(default_factory=MetadataSection)
    notifications: dict[str, NotificationSection] = Field(default_factory=dict)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)
    pools: dict[str, int] = Field(default_factory=dict)
    limits: dict[str, LimitSection] = Field(default_factory=dict)

    @field_validator("pools")
    @classmethod
    def _pool_sizes(cls, value: dict[str, int]) -> dict[str, int]:
        for name, size in value.items():
            if size < 1:
                raise ValueError(f"pool `{name}` must allow at least 1 step, got {size}")
        return value

    @field_validator("io_managers", "resources", "notifications", "pools", "limits")
    @classmethod
    def _names_are_identifiers(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not is_valid_asset_name(name):
                raise ValueError(f"name `{name}` is not a valid identifier")
        return value


def _line_of(text: str, path: tuple[str | int, ...]) -> int:
    """Best-effort line number of a dotted key in TOML text (0 when not found)."""
    lines = text.splitlines()
    keys = [str(p) for p in path]
    # Find the deepest table header that is a prefix of the path, then the key below it.
    best_line, best_depth = 0, -1
    for i, line in enumerate(lines, 1):
        match = re.match(r"\s*\[+\s*([^\]]+?)\s*\]+", line)
        if match:
            header = [h.strip().strip('"') for h in match.group(1).split(".")]
            if header == keys[:len(header)] and len(header) > best_depth:
                best_line, best_depth = i, len(header)
    if best_depth < 0:
        best_depth = 0
    rest = keys[best_depth:]
    if rest:
        pattern = re.compile(rf"\s*{re.escape(rest[0])}\s*[.=]")
        for i, line in enumerate(lines[best_line:], best_line + 1):
            if re.match(r"\s*\[", line):
                break
            if pattern.match(line):
                return i
    return best_line


_KNOWN_KEYS: dict[str, list[str]] = {
    name: list(model.model_fields)
    for name, model in {"project": ProjectSection, "storage": StorageSection,
                        "executor": ExecutorSection, "metadata": MetadataSection,
                        "notifications": NotificationSection, "telemetry": TelemetrySection,
                        "limits": LimitSection, "": FlowStoneConfig}.items()
}


def _problem_for(error: Mapping[str, Any], source: str, text: str) -> Problem:
    loc = tuple(error.get("loc", ()))
    key = ".".join(str(p) for p in loc)
    line = _line_of(text, loc)
    where = f"{source}:{line}" if line else source
    if error.get("type") == "extra_forbidden":
        section = str(loc[0]) if len(loc) > 1 else ""
        known = _KNOWN_KEYS.get(section, [])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"Did you mean `{close[0]}`?" if close else f"Known keys: {', '.join(known)}."
        return Problem("config_unknown_key", f"unknown key `{key}` in {source}", where, hint)
    if error.get("type") == "missing":
        return Problem("config_missing_key", f"missing key `{key}` in {source}", where,
                       "Add it; see docs/configuration.md.")
    return Problem("config_invalid_value", f"`{key}` in {source}: {error.get('msg')}", where,
                   "See docs/configuration.md for the allowed values.")


def parse_config(text: str, *, source: str, env: Mapping[str, str]) -> tuple[FlowStoneConfig,
                                                                              frozenset[str]]:
    """Parse and validate the text of a `flowstone.toml`.

    Args:
        text: the file's contents.
        source: the file name used in messages.
        env: environment for `${VAR}` interpolation.

    Returns:
        The validated config and the set of resolved secret values (for redaction).

    Raises:
        ConfigError: the TOML is malformed, a variable is unset, or keys/values are invalid
            (then `problems` lists each with its line).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}",
                          hint="Fix the syntax; see docs/configuration.md.") from None
    interpolator = Interpolator(env=env, source=source)
    resolved = interpolator.resolve(raw)
    try:
        config = FlowStoneConfig.model_validate(resolved)
    except ValidationError as exc:
        problems = [_problem_for(err, source, text) for err in exc.errors()]
        raise ConfigError(problems[0].message if len(problems) == 1 else
                          f"{len(problems)} problems in {source}",
                          hint=problems[0].hint if len(problems) == 1 else
                          "Run `flowstone check` to see every problem.",
                          problems=tuple(problems)) from None
    return config, frozenset(interpolator.secrets)


def read_config(root: Path, env: Mapping[str, str]) -> tuple[FlowStoneConfig, frozenset[str]]:
    """Read `<root>/flowstone.toml` (see `parse_config`)."""
    path = root / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}",
                          hint="Check the path and permissions.") from None
    return parse_config(text, source=str(path), env=env)

"""Loading a project: config, then modules, then validated `Definitions`, as plain objects."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.automation import ScheduleSpec, SensorSpec
from flowstone_cli.definitions.batch import AssetCollection, batch_problems, resolve_optional_deps
from flowstone_cli.definitions.checkpoint import CheckpointSpec, checkpoint_problems
from flowstone_cli.definitions.checks import AssetCheckSpec
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.errors import ConfigError, DefinitionError, Problem
from flowstone_cli.project.config import CONFIG_FILE, FlowStoneConfig, read_config
from flowstone_cli.project.components import component_problems
from flowstone_cli.project.discovery import import_project_modules
from flowstone_cli.project.store_clash import metadata_clash_problems
from flowstone_cli.project.validation import automation_problems, check_problems, validate_specs

METADATA_FILE = "flowstone.duckdb"


def is_remote(url: str) -> bool:
    """True for fsspec URLs with a non-local protocol (s3://, gcs://, memory://...)."""
    return "://" in url and not url.startswith("file://")


@dataclass(frozen=True)
class Project:
    """A loaded, validated project.

    Attributes:
        root: the project folder.
        config: the parsed `flowstone.toml`.
        definitions: the validated asset definitions.
        storage_root: absolute local path or fsspec URL where data lives.
        metadata_path: the metadata DuckDB file.
        secrets: resolved secret values from `${VAR}` interpolation, for redaction.
        package: the private package name the modules were imported under.
    """

    root: Path
    config: FlowStoneConfig
    definitions: Definitions
    storage_root: str
    metadata_path: Path
    secrets: frozenset[str] = field(repr=False, default=frozenset())
    package: str = ""

    @property
    def name(self) -> str:
        """The project's name from `[project] name`."""
        return self.config.project.name


@dataclass(frozen=True)
class LoadReport:
    """Everything learned while loading, whether or not the project is valid.

    Attributes:
        project: the project, or None when there were problems.
        problems: every problem found (config, imports, definitions).
        specs: every asset spec found, valid or not.
    """

    project: Project | None
    problems: tuple[Problem, ...]
    specs: tuple[AssetSpec, ...]


def collect_specs(modules: tuple[ModuleType, ...], kind: type = AssetSpec) -> list[Any]:
    """Every spec of `kind` (assets, schedules, sensors) bound at module level, each
    definition once even if a module re-imports it."""
    seen: set[tuple[str, int, str]] = set()
    specs: list[Any] = []
    for module in modules:
        for item in vars(module).values():
            values = item.specs if isinstance(item, AssetCollection) and kind is AssetSpec \
                else (item,)
            for value in values:
                if not isinstance(value, kind):
                    continue
                identity = (value.file, value.line, value.name)
                if identity not in seen:
                    seen.add(identity)
                    specs.append(value)
    return specs


def resolve_checkpoints(specs: list[AssetSpec]) -> list[AssetSpec]:
    """Checkpoints take their upstream's partitions and I/O manager unless they name their own."""
    by_name = {spec.name: spec for spec in specs}
    resolved: list[AssetSpec] = []
    for spec in specs:
        if isinstance(spec, CheckpointSpec) and spec.upstream_input in by_name:
            spec = spec.resolved(by_name[spec.upstream_input])
        resolved.append(spec)
    return resolved


def storage_root_for(root: Path, config: FlowStoneConfig) -> str:
    """The storage root as an absolute path or a URL."""
    configured = config.storage.root
    if is_remote(configured):
        return configured.rstrip("/")
    local = configured.removeprefix("file://")
    return str((root / local).resolve())


def metadata_path_for(root: Path, config: FlowStoneConfig, storage_root: str) -> Path:
    """Where the metadata file lives: `[metadata] path`, else next to local data, else
    `.flowstone/` inside the project when data is remote."""
    if config.metadata.path:
        return (root / config.metadata.path).resolve()
    if is_remote(storage_root):
        return root / ".flowstone" / METADATA_FILE
    return Path(storage_root) / METADATA_FILE


def _fallback_assets_dir(root: Path) -> str:
    # When flowstone.toml is invalid we still check the definitions, so that one `check` shows
    # every problem; the assets folder is taken from the raw file if it names one.
    try:
        raw = tomllib.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
        value = raw.get("project", {}).get("assets_dir", "assets")
        return value if isinstance(value, str) else "assets"
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return "assets"


def inspect_project(root: Path, env: Mapping[str, str]) -> LoadReport:
    """Load as much of the project as possible and report every problem found."""
    problems: list[Problem] = []
    config: FlowStoneConfig | None = None
    secrets: frozenset[str] = frozenset()
    try:
        config, secrets = read_config(root, env)
    except ConfigError as exc:
        problems.extend(exc.problems or (Problem(exc.code, exc.message, str(root / CONFIG_FILE),
                                                 exc.hint),))
    assets_dir = config.project.assets_dir if config else _fallback_assets_dir(root)
    discovered = import_project_modules(root, assets_dir)
    problems.extend(discovered.problems)
    specs = resolve_checkpoints(resolve_optional_deps(collect_specs(discovered.modules)))
    schedules = collect_specs(discovered.modules, ScheduleSpec)
    sensors = collect_specs(discovered.modules, SensorSpec)
    checks = collect_specs(discovered.modules, AssetCheckSpec)
    problems.extend(validate_specs(specs, config))
    problems.extend(check_problems(checks, specs))
    problems.extend(automation_problems(schedules, sensors))
    problems.extend(batch_problems(specs))
    problems.extend(checkpoint_problems(specs, config.notifications if config else None))
    if config is not None:
        problems.extend(component_problems(root, config, discovered.package))
    if problems or config is None:
        return LoadReport(None, tuple(problems), tuple(specs))
    storage_root = storage_root_for(root, config)
    metadata_path = metadata_path_for(root, config, storage_root)
    clashes = metadata_clash_problems(root, config, storage_root, metadata_path)
    if clashes:
        return LoadReport(None, tuple(clashes), tuple(specs))
    project = Project(root=root, config=config,
                      definitions=Definitions.from_specs(specs, schedules, sensors, checks),
                      storage_root=storage_root, metadata_path=metadata_path,
                      secrets=secrets, package=discovered.package)
    return LoadReport(project, (), tuple(specs))


def load_project(root: Path, env: Mapping[str, str]) -> Project:
    """Load and validate the project at `root`.

    Raises:
        DefinitionError: with every problem found, when the project is not valid.
    """
    report = inspect_project(root, env)
    if report.project is None:
        raise DefinitionError(report.problems)
    return report.project

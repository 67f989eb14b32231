"""Turning a loaded project's configuration into live components: I/O managers, resources,
the metadata store and the step runtime."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flowstone_cli.execution.runtime import StepRuntime
from flowstone_cli.io.base import IOManager
from flowstone_cli.io.registry import (
    BUILTIN_IO_MANAGERS,
    create_io_manager,
    resolve_io_manager_class,
)
from flowstone_cli.metadata.store import MetadataStore
from flowstone_cli.project.imports import import_module_for_project, import_object
from flowstone_cli.project.loader import Project, is_remote
from flowstone_cli.resources.base import Resource, ResourceSet, build_resource


def open_store(project: Project) -> MetadataStore:
    """The project's metadata store (no connection is opened here)."""
    return MetadataStore(project.metadata_path, lock_timeout=project.config.metadata.lock_timeout)


def _root_for(project: Project, configured: str | None) -> str:
    if configured is None:
        return project.storage_root
    if is_remote(configured):
        return configured
    return str((project.root / configured.removeprefix("file://")).resolve())


def build_io_managers(project: Project, names: Iterable[str] | None = None) -> dict[str, IOManager]:
    """Instances of the named I/O managers (default: every built-in and configured one).

    Built-ins are rooted at the storage root with `[storage] storage_options`; configured ones
    at their own `root` (relative paths are relative to the project folder).
    """
    config = project.config
    wanted = set(names) if names is not None else set(BUILTIN_IO_MANAGERS) | set(config.io_managers)
    managers: dict[str, IOManager] = {}
    for name in sorted(wanted):
        section = config.io_managers.get(name)
        if section is None:
            managers[name] = create_io_manager(BUILTIN_IO_MANAGERS[name],
                                               root=project.storage_root,
                                               storage_options=config.storage.storage_options,
                                               options={})
            continue
        cls = resolve_io_manager_class(
            section.type, import_module=lambda m: import_module_for_project(m, project.package))
        options = section.storage_options or (config.storage.storage_options
                                              if section.root is None else {})
        managers[name] = create_io_manager(cls, root=_root_for(project, section.root),
                                           storage_options=options, options=section.options)
    return managers


def build_resources(project: Project, names: Iterable[str] | None = None) -> dict[str, Resource]:
    """Validated resource instances (not set up) for the named or all configured resources."""
    config = project.config
    wanted = list(names) if names is not None else list(config.resources)
    resources: dict[str, Resource] = {}
    for name in wanted:
        section = config.resources[name]
        cls = import_object(section.type, package=project.package, what=f"resource `{name}`")
        resources[name] = build_resource(name, cls, section.fields)
    return resources


def build_runtime(project: Project, assets: Iterable[str]) -> StepRuntime:
    """The step runtime for running `assets` (and loading their upstreams)."""
    definitions = project.definitions
    involved = set(assets)
    for name in list(involved):
        involved.update(definitions.assets[name].upstream)
    managers = build_io_managers(project, {definitions.assets[n].io_manager for n in involved})
    required = {r for n in involved for r in definitions.assets[n].requires}
    return StepRuntime(definitions.assets, managers, ResourceSet(build_resources(project,
                                                                                 required)))


def metadata_dir(project: Project) -> Path:
    """The folder holding the metadata file."""
    return project.metadata_path.parent

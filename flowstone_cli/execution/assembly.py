"""Assembling a step runtime from a loaded project: I/O managers and resources.

Lives in the execution layer so that a worker started with `spawn` or `forkserver` can rebuild
its runtime from the project folder itself: only the folder's path and asset names cross the
process boundary, never a resolved secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from flowstone_cli.definitions.batch import is_batched
from flowstone_cli.execution.runtime import StepRuntime
from flowstone_cli.execution.tasks import StepResult, StepTask
from flowstone_cli.execution.throttling import PoolGate
from flowstone_cli.io.base import IOManager
from flowstone_cli.io.registry import (
    BUILTIN_IO_MANAGERS,
    create_io_manager,
    resolve_io_manager_class,
)
from flowstone_cli.project.imports import import_module_for_project, import_object
from flowstone_cli.project.loader import Project, load_project
from flowstone_cli.project.store_clash import io_manager_root
from flowstone_cli.resources.base import Resource, ResourceSet, build_resource
from flowstone_cli.resources.rate_limiter import NamedLimits, RateLimiter, parse_rate
from flowstone_cli.resources.registry import LIMITS_FILE, STATE_DIR, builtin_resource_class


def _root_for(project: Project, configured: str | None) -> str:
    return io_manager_root(project.root, project.storage_root, configured)


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
        cls = builtin_resource_class(section.type) or import_object(
            section.type, package=project.package, what=f"resource `{name}`")
        fields = section.fields
        if "state_dir" in getattr(cls, "model_fields", {}) and "state_dir" not in fields:
            # Resources that share state between processes keep it in the project's .flowstone.
            fields["state_dir"] = str(project.root / STATE_DIR)
        resources[name] = build_resource(name, cls, fields)
    return resources


def build_runtime(project: Project, assets: Iterable[str]) -> StepRuntime:
    """The step runtime for running `assets` (and loading their upstreams)."""
    definitions = project.definitions
    involved = set(assets)
    for name in list(involved):
        involved.update(definitions.assets[name].upstream)
    managers = build_io_managers(project, {definitions.assets[n].io_manager for n in involved
                                           if not is_batched(definitions.assets[n])})
    required = {r for n in involved for r in definitions.assets[n].requires}
    return StepRuntime(definitions.assets, managers,
                       ResourceSet(build_resources(project, required)),
                       tenant_dimension=project.config.project.tenant_dimension,
                       checks=definitions.checks, limits=build_limits(project))


def build_pool_gate(project: Project) -> PoolGate | None:
    """The machine-wide `[pools]` slots under `.flowstone/pools` (None without pools)."""
    if not project.config.pools:
        return None
    return PoolGate(project.root / STATE_DIR / "pools", project.config.pools,
                    {name: spec.pool for name, spec in project.definitions.assets.items()})


def build_limits(project: Project) -> NamedLimits | None:
    """The `[limits.*]` rates for `context.rate_limit`, over `.flowstone/ratelimits.sqlite`."""
    limits = project.config.limits
    if not limits:
        return None
    rates = {name: parse_rate(section.rate, burst=section.burst)
             for name, section in limits.items()}
    return NamedLimits(RateLimiter(project.root / STATE_DIR / LIMITS_FILE), rates)




class ProjectRunner:
    """A picklable step runner for `spawn`/`forkserver` workers.

    It carries only the project folder and the asset names; the first task a worker receives
    loads the project there (reading flowstone.toml and the environment itself) and builds
    the runtime, which the worker then keeps.
    """

    def __init__(self, root: str, assets: Sequence[str]) -> None:
        self.root = root
        self.assets = tuple(assets)
        self._runtime: StepRuntime | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"root": self.root, "assets": self.assets, "_runtime": None}

    def runtime(self) -> StepRuntime:
        """The runtime of this process, built on first use."""
        if self._runtime is None:
            project = load_project(Path(self.root), os.environ)
            self._runtime = build_runtime(project, self.assets)
        return self._runtime

    def __call__(self, task: StepTask) -> StepResult:
        return self.runtime().run(task)

    def teardown(self) -> None:
        """Tear down this process's resources, if any were set up."""
        if self._runtime is not None:
            self._runtime.resources.teardown()

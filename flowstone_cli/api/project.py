"""Opening and checking projects, and describing their assets."""

from __future__ import annotations

import os
from collections.abc import Sequence, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowstone_cli.api.checks import target_problems
from flowstone_cli.api.io_checks import io_manager_problems
from flowstone_cli.api.tenants import tenant_filter
from flowstone_cli.api.partitions import partition_status
from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.errors import Problem
from flowstone_cli.project.discovery import find_project_root
from flowstone_cli.project.loader import LoadReport, Project, inspect_project, load_project
from flowstone_cli.project.validation import memory_manager_problems


def resolve_root(project: str | os.PathLike[str] | None = None, *, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None) -> Path:
    """Find the project folder (see `find_project_root`)."""
    return find_project_root(project, os.environ if env is None else env,
                             Path.cwd() if cwd is None else cwd)


def open_project(project: str | os.PathLike[str] | None = None, *, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None) -> Project:
    """Find, load and validate a project.

    Raises:
        ProjectNotFoundError: no project was found.
        DefinitionError: the project has problems (all of them are listed).
    """
    environ = os.environ if env is None else env
    return load_project(resolve_root(project, cwd=cwd, env=environ), environ)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of `flowstone check`.

    Attributes:
        root: the project folder.
        problems: every problem found.
        asset_count: how many assets were found (valid or not).
        report: the full load report.
    """

    root: Path
    problems: tuple[Problem, ...]
    asset_count: int
    report: LoadReport

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"project": str(self.root), "ok": self.ok, "assets": self.asset_count,
                "problems": [p.to_dict() for p in self.problems]}


def check_project(project: str | os.PathLike[str] | None = None, *, cwd: Path | None = None,
                  env: Mapping[str, str] | None = None) -> CheckResult:
    """Load the project and collect every problem, including executor compatibility."""
    environ = os.environ if env is None else env
    root = resolve_root(project, cwd=cwd, env=environ)
    report = inspect_project(root, environ)
    problems = list(report.problems)
    if report.project is not None:
        loaded = report.project
        problems += memory_manager_problems(loaded.definitions.assets.values(), loaded.config,
                                            loaded.config.executor.type)
        problems += target_problems(loaded)
        problems += io_manager_problems(loaded)
    return CheckResult(root=root, problems=tuple(problems), asset_count=len(report.specs),
                       report=report)


def describe_asset(spec: AssetSpec, *, root: Path | None = None) -> dict[str, Any]:
    """An asset as plain data: what `list --json` prints for each asset."""
    location = spec.location
    if root is not None and spec.file.startswith(str(root)):
        location = f"{os.path.relpath(spec.file, root)}:{spec.line}"
    partitions = spec.partitions
    return {
        "name": spec.name,
        "kind": spec.kind,
        "group": spec.group,
        "tags": dict(spec.tags),
        "deps": list(spec.upstream),
        "inputs": list(spec.inputs),
        "io_manager": spec.io_manager,
        "partitions": partitions.describe() if hasattr(partitions, "describe") else None,
        "description": spec.description,
        "requires": list(spec.requires),
        "location": location,
    }


def _serves_tenant(spec: AssetSpec, dimension: str, tenant: str) -> bool:
    definition = spec.partitions
    names = getattr(definition, "dimension_names", ())
    if dimension not in names:
        return False
    try:
        dim = definition.dimension(dimension)
        return tenant in dim.keys()
    except Exception:  # noqa: BLE001 - dynamic dimensions list no keys here: keep the asset
        return True


def list_assets(project: Project, *, tenant: str | None = None,
                selection: Sequence[str] = (), exclude: Sequence[str] = ()
                ) -> list[dict[str, Any]]:
    """The project's assets as plain data, in dependency order: every one, or what
    `selection` resolves to (each with `included`, why it is in). With `tenant`, only the
    assets partitioned by the project's tenant dimension that have that tenant.

    Raises:
        SelectionError: the selection is malformed or matches nothing.
    """
    reasons: dict[str, str] = {}
    names = list(project.definitions.order)
    if selection:
        # Imported here: a plain `flowstone list` stays light (no store, no lineage code).
        from flowstone_cli.api.selecting import select_from
        from flowstone_cli.api.wiring import open_store

        chosen = select_from(project, open_store(project), selection, exclude)
        names, reasons = list(chosen.assets), dict(chosen.reasons)
    specs = [project.definitions.assets[n] for n in names]
    only = tenant_filter(project, tenant)
    if only is not None:
        specs = [s for s in specs if _serves_tenant(s, only.dimension, only.tenant)]
    described = [describe_asset(spec, root=project.root) for spec in specs]
    for item in described:
        if reasons:
            item["included"] = reasons[item["name"]]
    return described


def show_asset(project: Project, name: str) -> dict[str, Any]:
    """One asset in detail: its description plus code version and direct neighbours."""
    definitions = project.definitions
    spec = definitions.get(name)
    data = describe_asset(spec, root=project.root)
    data["code_version"] = spec.code_version
    data["downstream"] = list(definitions.dag.downstream_of(name))
    data["retry"] = (None if spec.retry is None else
                     {"max_attempts": spec.retry.max_attempts, "delay": spec.retry.delay,
                      "backoff": spec.retry.backoff})
    data["timeout"] = spec.timeout
    data["max_age"] = spec.max_age
    if spec.partitions is not None:
        status = partition_status(project, name)
        data["partition_status"] = status.to_dict()["counts"]
    return data

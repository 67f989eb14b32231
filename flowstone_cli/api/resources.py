"""`flowstone resources check`: validate every configured resource and run its health check."""

from __future__ import annotations

from dataclasses import dataclass

from flowstone_cli.api.io_checks import io_manager_health
from flowstone_cli.api.wiring import build_resources
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.project.loader import Project
from flowstone_cli.resources.base import ResourceSet


@dataclass(frozen=True)
class ResourceHealth:
    """The health of one resource: `problem` is None when it is healthy."""

    name: str
    type: str
    problem: str | None

    def to_dict(self) -> dict[str, str | None]:
        """Plain data for `--json`."""
        return {"name": self.name, "type": self.type, "healthy": self.problem is None,
                "problem": self.problem}


def check_resources(project: Project) -> list[ResourceHealth]:
    """Build each configured resource and run its health check; never raises for one
    resource's failure (it is reported in `problem`)."""
    results: list[ResourceHealth] = []
    for name, section in project.config.resources.items():
        try:
            resources = build_resources(project, [name])
        except FlowStoneError as exc:
            results.append(ResourceHealth(name, section.type, exc.message))
            continue
        problem = ResourceSet(resources).health()[name]
        results.append(ResourceHealth(name, section.type, problem))
    # I/O managers that reach a server (postgres) are checked too, as `io_managers.NAME`.
    results += [ResourceHealth(f"io_managers.{h.name}", h.type, h.problem)
                for h in io_manager_health(project)]
    return results

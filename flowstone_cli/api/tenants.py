"""The `--tenant T` filter shared by list, runs, backfill show, partitions status and lineage."""

from __future__ import annotations

from dataclasses import dataclass

from flowstone_cli.errors import UsageError
from flowstone_cli.project.loader import Project


@dataclass(frozen=True)
class TenantFilter:
    """Which partition keys belong to one tenant of the project's tenant dimension."""

    dimension: str
    tenant: str

    def _value(self, partition: str | None) -> str | None:
        for part in (partition or "").split(","):
            name, eq, value = part.partition("=")
            if eq and name == self.dimension:
                return value
        return None

    def owns(self, partition: str | None) -> bool:
        """The key has the tenant dimension, set to this tenant."""
        return self._value(partition) == self.tenant

    def admits(self, partition: str | None) -> bool:
        """The key is this tenant's, or has no tenant dimension at all (shared data)."""
        value = self._value(partition)
        return value is None or value == self.tenant


def tenant_filter(project: Project, tenant: str | None) -> TenantFilter | None:
    """The filter for `--tenant`, or None without one.

    Raises:
        UsageError: the project declares no `[project] tenant_dimension`.
    """
    if tenant is None:
        return None
    dimension = project.config.project.tenant_dimension
    if not dimension:
        raise UsageError("--tenant needs `[project] tenant_dimension` in flowstone.toml",
                         hint='Add e.g. tenant_dimension = "tenant".')
    return TenantFilter(dimension, tenant)

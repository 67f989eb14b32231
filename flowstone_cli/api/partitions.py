"""Partition keys of dynamic partitions, and the materialization status of an asset's partitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api.actor import current_actor
from flowstone_cli.api.tenants import tenant_filter
from flowstone_cli.api.wiring import open_store
from flowstone_cli.errors import NotFoundError, UsageError
from flowstone_cli.keys import validate_partition_key_part
from flowstone_cli.metadata.statuses import StepStatus
from flowstone_cli.partitions import DynamicPartitions, MultiPartitions
from flowstone_cli.project.loader import Project


def dynamic_names(project: Project) -> list[str]:
    """Names of every DynamicPartitions definition the project's assets use."""
    names: list[str] = []
    for spec in project.definitions.assets.values():
        definition = spec.partitions
        dims = ([dim for _, dim in definition.dimensions]
                if isinstance(definition, MultiPartitions) else [definition])
        names.extend(d.name for d in dims if isinstance(d, DynamicPartitions))
    return list(dict.fromkeys(names))


def _check_name(project: Project, name: str) -> None:
    names = dynamic_names(project)
    if name not in names:
        raise NotFoundError(f"no asset uses DynamicPartitions(`{name}`)",
                            hint=f"Dynamic partitions in this project: "
                                 f"{', '.join(names) or 'none'}.")


def add_keys(project: Project, name: str, keys: list[str], *, by: str | None = None) -> list[str]:
    """Register keys of a dynamic partitions definition; returns the ones that were new."""
    _check_name(project, name)
    for key in keys:
        validate_partition_key_part(key)
    with open_store(project).writer() as writer:
        return writer.add_dynamic_keys(name, keys, when=datetime.now(timezone.utc),
                                       by=current_actor(by))


def remove_keys(project: Project, name: str, keys: list[str]) -> list[str]:
    """Unregister keys (materialized data stays); returns those that were registered."""
    _check_name(project, name)
    with open_store(project).writer() as writer:
        return writer.remove_dynamic_keys(name, keys)


def list_keys(project: Project, name: str) -> list[str]:
    """The registered keys of a dynamic partitions definition."""
    _check_name(project, name)
    store = open_store(project)
    if not store.exists():
        return []
    with store.reader() as reader:
        return reader.dynamic_keys([name]).get(name, [])


@dataclass(frozen=True)
class PartitionStatus:
    """Which partitions of an asset are materialized, failed or missing."""

    asset: str
    definition: str
    materialized: list[str]
    failed: list[str]
    missing: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"asset": self.asset, "partitions": self.definition,
                "counts": {"materialized": len(self.materialized), "failed": len(self.failed),
                           "missing": len(self.missing)},
                "materialized": self.materialized, "failed": self.failed,
                "missing": self.missing}


def partition_status(project: Project, asset: str, *, tenant: str | None = None
                     ) -> PartitionStatus:
    """The status of every partition of a partitioned asset (as of now)."""
    spec = project.definitions.get(asset)
    if spec.partitions is None:
        raise UsageError(f"asset `{asset}` is not partitioned",
                         hint=f"See `flowstone show {asset}`.")
    store = open_store(project)
    latest: dict = {}
    attempts: dict = {}
    dynamic: dict[str, list[str]] = {}
    if store.exists():
        with store.reader() as reader:
            dynamic = reader.dynamic_keys()
            latest = reader.latest_materializations([asset])
            attempts = reader.latest_attempts([asset])
    keys = spec.partitions.keys(now=datetime.now(timezone.utc), dynamic_keys=dynamic)
    only = tenant_filter(project, tenant)
    if only is not None:
        keys = [k for k in keys if only.owns(k)]
    materialized, failed, missing = [], [], []
    for key in keys:
        attempt = attempts.get((asset, key))
        if attempt is not None and attempt.status in (StepStatus.FAILED, StepStatus.TIMED_OUT) \
                and ((asset, key) not in latest or attempt.ended_at > latest[(asset, key)].ended_at):
            failed.append(key)
        elif (asset, key) in latest:
            materialized.append(key)
        else:
            missing.append(key)
    return PartitionStatus(asset, spec.partitions.describe(), materialized, failed, missing)

"""Lineage questions about one asset partition: upstream, downstream and impact.

Read-only commands open the metadata store directly rather than through `api.wiring`, which
imports the execution layer (~100 ms) that they never use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api.tenants import tenant_filter
from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.lineage.entries import DownstreamAnswer, ImpactAnswer, UpstreamAnswer
from flowstone_cli.lineage.graph import (
    check_partition,
    predicted_downstream,
    predicted_upstream,
    uses_dynamic_partitions,
)
from flowstone_cli.lineage.impact import impact as impact_of
from flowstone_cli.lineage.recorded import LineageIndex
from flowstone_cli.lineage.recorded import downstream as downstream_of
from flowstone_cli.lineage.recorded import upstream as upstream_of
from flowstone_cli.metadata.store import MetadataStore, StoreReader
from flowstone_cli.planning.plan import StepKey
from flowstone_cli.project.loader import Project
from flowstone_cli.redaction import Redactor


def metadata_store(project: Project) -> MetadataStore:
    """The project's metadata store (no connection is opened here)."""
    return MetadataStore(project.metadata_path, lock_timeout=project.config.metadata.lock_timeout,
                         redactor=Redactor(project.secrets))


@contextmanager
def read_session(project: Project) -> Iterator[StoreReader | None]:
    """A read session on the store, or None when the project has no store yet (nothing was
    ever recorded; DuckDB is then not even imported)."""
    store = metadata_store(project)
    if not store.exists():
        yield None
        return
    with store.reader() as reader:
        yield reader


def _start(project: Project, reader: StoreReader | None, asset: str,
           partition: str | None) -> tuple[StepKey, dict[str, list[str]], datetime]:
    dynamic = (reader.dynamic_keys() if reader is not None
               and uses_dynamic_partitions(project.definitions) else {})
    key = check_partition(project.definitions, asset, partition, dynamic_keys=dynamic)
    return key, dynamic, datetime.now(timezone.utc)


def upstream(project: Project, asset: str, partition: str | None = None, *,
             depth: int | None = None, tenant: str | None = None) -> UpstreamAnswer:
    """What the latest materialization of `asset[partition]` read, transitively (or, never
    materialized, what the definitions say it would read).

    Raises:
        NotFoundError: no such asset.
        PartitionError: the partition does not fit the asset.
    """
    with read_session(project) as reader:
        key, dynamic, now = _start(project, reader, asset, partition)
        reach = predicted_upstream(project.definitions, key, now=now, dynamic_keys=dynamic,
                                   max_depth=depth)
        answer = upstream_of(LineageIndex(reader), key, reach, max_depth=depth)
        only = tenant_filter(project, tenant)
        if only is not None:
            answer = replace(answer, entries=tuple(e for e in answer.entries
                                                   if only.admits(e.key.partition)))
        keys = [key, *(e.key for e in answer.entries)]
        return replace(answer, checkpoints=_decisions(project, reader, keys),
                       checks=_verdicts(project, reader, keys))


def downstream(project: Project, asset: str, partition: str | None = None, *,
               depth: int | None = None, tenant: str | None = None) -> DownstreamAnswer:
    """Recorded consumers of `asset[partition]` and the partitions the definitions say read it.

    Raises:
        NotFoundError: no such asset.
        PartitionError: the partition does not fit the asset.
    """
    with read_session(project) as reader:
        key, dynamic, now = _start(project, reader, asset, partition)
        reach = predicted_downstream(project.definitions, key, now=now, dynamic_keys=dynamic,
                                     max_depth=depth)
        answer = downstream_of(LineageIndex(reader), key, reach, max_depth=depth)
        only = tenant_filter(project, tenant)
        if only is not None:
            answer = replace(answer,
                             recorded=tuple(e for e in answer.recorded
                                            if only.admits(e.key.partition)),
                             expected=tuple(e for e in answer.expected
                                            if only.admits(e.key.partition)))
        keys = [key, *(e.key for e in (*answer.recorded, *answer.expected))]
        return replace(answer, checkpoints=_decisions(project, reader, keys),
                       checks=_verdicts(project, reader, keys))


def impact(project: Project, asset: str, partition: str | None = None, *,
           tenant: str | None = None) -> ImpactAnswer:
    """The downstream partitions that would become stale if `asset[partition]` changed now.

    Raises:
        NotFoundError: no such asset.
        PartitionError: the partition does not fit the asset.
    """
    with read_session(project) as reader:
        key, dynamic, now = _start(project, reader, asset, partition)
        reach = predicted_downstream(project.definitions, key, now=now, dynamic_keys=dynamic)
        answer = impact_of(LineageIndex(reader), key, reach)
        only = tenant_filter(project, tenant)
        if only is not None:
            answer = replace(answer, impacted=tuple(e for e in answer.impacted
                                                    if only.admits(e.key.partition)))
        keys = [key, *(e.key for e in answer.impacted)]
        return replace(answer, checkpoints=_decisions(project, reader, keys),
                       checks=_verdicts(project, reader, keys))


def _decisions(project: Project, reader: StoreReader | None, keys: Iterable[StepKey]
               ) -> tuple[dict[str, Any], ...]:
    """The approval audit trail of the checkpoint partitions among `keys`: every request and
    decision (who, when, why, the patch and value hashes)."""
    wanted = list(dict.fromkeys((k.asset, k.partition) for k in keys
                                if isinstance(project.definitions.assets.get(k.asset),
                                              CheckpointSpec)))
    if reader is None or not wanted:
        return ()
    return tuple(r.to_dict() for r in reader.checkpoints_for_partitions(wanted))


def _verdicts(project: Project, reader: StoreReader | None, keys: Iterable[StepKey]
              ) -> tuple[dict[str, Any], ...]:
    """The newest asset check results on the current values of the partitions among `keys`."""
    wanted = list(dict.fromkeys((k.asset, k.partition) for k in keys
                                if project.definitions.checks_of(k.asset)))
    if reader is None or not wanted:
        return ()
    latest = reader.latest_of_keys(wanted)
    return tuple(v.to_dict() for v in reader.check_verdicts([r.step_id for r in latest.values()]))

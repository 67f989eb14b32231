"""`flowstone wipe`: delete an asset's stored values and mark their materializations wiped.

The materializations are marked first and the values deleted after: a crash in between leaves
values that are no longer current (the next `materialize` rewrites them), never a current
record that points at a deleted value. The lineage history stays.

`wipe` holds the claims of the partitions it deletes, as runs do (`execution/exclusive.py`): it
waits for a run materializing them to finish, marks what is recorded *inside* the session that
takes the claims, and no run can record a new value until the deletes are done and the claims
released. The wipe is recorded as a run with trigger `wipe`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flowstone_cli._version import __version__
from flowstone_cli.api.lineage import metadata_store, read_session
from flowstone_cli.api.materialize import current_actor
from flowstone_cli.api.wiring import build_io_managers
from flowstone_cli.execution import exclusive
from flowstone_cli.execution.runtime import partition_info
from flowstone_cli.io.base import StoreContext
from flowstone_cli.io.registry import BUILTIN_IO_MANAGERS
from flowstone_cli.lineage.graph import check_partition, uses_dynamic_partitions
from flowstone_cli.metadata.ids import new_run_id
from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.store import StoreWriter
from flowstone_cli.planning.plan import StepKey
from flowstone_cli.project.loader import Project


@dataclass(frozen=True)
class WipeTarget:
    """One asset partition to wipe.

    Attributes:
        partition: the partition (None: unpartitioned).
        step_ids: its materializations not yet marked wiped.
        io_managers: the I/O managers its values were stored through.
    """

    partition: str | None
    step_ids: tuple[str, ...]
    io_managers: tuple[str, ...]


@dataclass(frozen=True)
class WipePlan:
    """What `wipe` would delete: the partitions of one asset with recorded materializations."""

    asset: str
    targets: tuple[WipeTarget, ...]

    @property
    def step_count(self) -> int:
        """Materializations that will be marked wiped."""
        return sum(len(t.step_ids) for t in self.targets)


@dataclass(frozen=True)
class WipeResult:
    """What `wipe` did."""

    asset: str
    partitions: tuple[str | None, ...]
    marked: int
    deleted: tuple[str, ...]
    skipped_managers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"asset": self.asset, "partitions": list(self.partitions),
                "materializations_marked": self.marked, "deleted": list(self.deleted),
                "skipped_io_managers": list(self.skipped_managers)}


def plan_wipe(project: Project, asset: str, partitions: Sequence[str] = ()) -> WipePlan:
    """The partitions of `asset` that `wipe` would delete.

    Without `partitions`, every partition with a materialization not yet wiped; with them,
    those partitions if they were ever materialized (wiping again deletes the value again).

    Raises:
        NotFoundError: no such asset.
        PartitionError: a partition does not fit the asset.
    """
    spec = project.definitions.get(asset)
    with read_session(project) as reader:
        if reader is None:
            return WipePlan(asset, ())
        dynamic = (reader.dynamic_keys() if uses_dynamic_partitions(project.definitions)
                   else {})
        explicit = [check_partition(project.definitions, asset, p, dynamic_keys=dynamic)
                    for p in partitions]
        if explicit:
            keys = explicit
        elif spec.partitions is None:
            keys = [StepKey(asset, None)]
        else:
            keys = [StepKey(asset, p) for p in reader.recorded_partitions([asset]).get(asset, [])]
        records = reader.materializations_of_keys(keys)
    targets = []
    for key in dict.fromkeys(keys):
        mine = [r for r in records if r.partition == key.partition]
        pending = tuple(r.step_id for r in mine if not r.wiped)
        if pending or (explicit and mine):
            managers = dict.fromkeys([spec.io_manager, *(r.io_manager for r in mine
                                                         if r.io_manager)])
            targets.append(WipeTarget(key.partition, pending, tuple(managers)))
    return WipePlan(asset, tuple(targets))


def wipe(project: Project, plan: WipePlan, *, wait: float = 300.0, actor: str | None = None,
         on_wait: Callable[[set[str]], None] | None = None) -> WipeResult:
    """Mark the plan's materializations wiped, then delete their stored values, holding the
    partitions' claims throughout.

    Args:
        wait: seconds to wait for runs that are materializing these partitions.
        on_wait: told the ids of those runs when waiting starts.

    Raises:
        ClaimsBusyError: runs kept materializing the partitions past `wait`.
        IOManagerError: a value could not be deleted (its materialization stays wiped; run
            `wipe` again to retry the deletion).
    """
    spec = project.definitions.get(plan.asset)
    if not plan.targets:
        return WipeResult(plan.asset, (), 0, ())
    store = metadata_store(project)
    keys = [(plan.asset, t.partition) for t in plan.targets]
    now = datetime.now(timezone.utc)
    record = RunRecord(run_id=new_run_id(), status=RunStatus.RUNNING, trigger="wipe",
                       selection=plan.asset, command=f"wipe {plan.asset}",
                       actor=current_actor(actor), host=socket.gethostname(), pid=os.getpid(),
                       flowstone_version=__version__, started_at=now, heartbeat_at=now)

    def mark(writer: StoreWriter) -> int:
        # Read again under the claims: a run may have recorded a value since the plan was made.
        fresh = [r for r in writer.materializations_of_keys(keys) if not r.wiped]
        for step in fresh:
            writer.update_step(step.step_id, wiped=True)
        return len(fresh)

    marked = exclusive.acquire(store, keys, record, timeout=wait, inside=mark, on_wait=on_wait)
    status = RunStatus.FAILED
    try:
        deleted, skipped = _delete_values(project, plan, spec)
        status = RunStatus.SUCCEEDED
    except KeyboardInterrupt:
        status = RunStatus.CANCELED
        raise
    finally:
        exclusive.release(store, record.run_id, status, {"wiped": marked})
    return WipeResult(plan.asset, tuple(t.partition for t in plan.targets), marked, deleted,
                      skipped)


def _delete_values(project: Project, plan: WipePlan, spec: Any
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    wanted = {name for t in plan.targets for name in t.io_managers}
    usable = {n for n in wanted if n in BUILTIN_IO_MANAGERS or n in project.config.io_managers}
    managers = build_io_managers(project, usable) if usable else {}
    deleted: list[str] = []
    for target in plan.targets:
        context = StoreContext(asset=plan.asset, partition=target.partition,
                               partition_path=partition_info(spec, target.partition).path)
        for name in target.io_managers:
            if name in managers:
                managers[name].delete(context)
                deleted.append(managers[name].uri_for(context))
    return tuple(dict.fromkeys(deleted)), tuple(sorted(wanted - usable))

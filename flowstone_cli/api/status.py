"""`flowstone status`: the stale steps of a selection, with their reasons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from flowstone_cli.api.lineage import read_session
from flowstone_cli.lineage.status import StatusReport, stale_steps
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.api.selecting import select_from
from flowstone_cli.api.wiring import open_store
from flowstone_cli.project.loader import Project


def status(project: Project, selection: Sequence[str] = ("*",), exclude: Sequence[str] = (), *,
           partitions: PartitionRequest | None = None) -> StatusReport:
    """Which steps `materialize SELECTION` would run, and why.

    Without `partitions`, partitioned assets are checked on every partition that has a
    recorded attempt.

    Raises:
        SelectionError: the selection is malformed or matches nothing.
        PartitionError: the partitions do not fit the selected assets.
    """
    chosen = select_from(project, open_store(project), selection, exclude)
    with read_session(project) as reader:
        return stale_steps(project.definitions, chosen, partitions or PartitionRequest(), reader,
                           now=datetime.now(timezone.utc))

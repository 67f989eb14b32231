"""Selecting assets and building plans and graphs from a loaded project."""

from __future__ import annotations

from collections.abc import Sequence

from flowstone_cli.api.materialize import decided_plan
from flowstone_cli.api.wiring import open_store
from flowstone_cli.planning.graph_export import render_graph
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.planning.plan import Plan
from flowstone_cli.api.selecting import select_from
from flowstone_cli.planning.selection import Selection
from flowstone_cli.project.loader import Project


def select_assets(project: Project, selection: Sequence[str],
                  exclude: Sequence[str] = ()) -> Selection:
    """Evaluate a selection (see `flowstone_cli.planning.selection`)."""
    return select_from(project, open_store(project), selection, exclude)


def make_plan(project: Project, selection: Sequence[str], exclude: Sequence[str] = (), *,
              force: bool = False, partitions: PartitionRequest | None = None) -> Plan:
    """The steps a selection covers, in dependency order, each marked run (with the reason it
    is stale) or skip (up to date), with why it is included."""
    return decided_plan(project, open_store(project), selection, exclude, force=force,
                        partitions=partitions).plan


def graph(project: Project, fmt: str, selection: Sequence[str] = ("*",)) -> str:
    """The asset graph (or the selected part of it) as text, Mermaid or dot."""
    chosen = select_assets(project, selection)
    return render_graph(project.definitions, chosen.assets, fmt)

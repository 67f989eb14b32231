"""Selecting assets and building plans and graphs from a loaded project."""

from __future__ import annotations

from collections.abc import Sequence

from flowstone_cli.planning.graph_export import render_graph
from flowstone_cli.planning.plan import Plan, build_plan
from flowstone_cli.planning.selection import Selection, select
from flowstone_cli.project.loader import Project


def select_assets(project: Project, selection: Sequence[str],
                  exclude: Sequence[str] = ()) -> Selection:
    """Evaluate a selection (see `flowstone_cli.planning.selection`)."""
    return select(project.definitions, selection, exclude)


def make_plan(project: Project, selection: Sequence[str], exclude: Sequence[str] = ()) -> Plan:
    """The steps a selection covers, in dependency order, with why each is included."""
    chosen = select_assets(project, selection, exclude)
    return build_plan(project.definitions, chosen)


def graph(project: Project, fmt: str, selection: Sequence[str] = ("*",)) -> str:
    """The asset graph (or the selected part of it) as text, Mermaid or dot."""
    chosen = select_assets(project, selection)
    return render_graph(project.definitions, chosen.assets, fmt)

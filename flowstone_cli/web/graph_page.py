"""The asset graph page: an inline SVG of every asset and checkpoint, coloured by state."""

from __future__ import annotations

from flowstone_cli.api.dashboard import STATES, DashboardState
from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.project.loader import Project
from flowstone_cli.web.html import Html, esc, tag, url
from flowstone_cli.web.layout import NODE_H, NODE_W, Layout, Node, layout

MAX_CHARS = 24
LABELS = {"running": "running", "waiting_approval": "waiting for approval", "failed": "failed",
          "stale": "stale", "up_to_date": "up to date", "never": "never materialized"}


def graph_nodes(project: Project) -> list[Node]:
    """The project's assets as layout nodes, in dependency order."""
    definitions = project.definitions
    return [Node(name, definitions.assets[name].group or "default",
                 tuple(definitions.assets[name].upstream)) for name in definitions.order]


def _label(name: str) -> str:
    return name if len(name) <= MAX_CHARS else name[:MAX_CHARS - 1] + "…"


def render_svg(project: Project, placed: Layout, state: DashboardState) -> Html:
    """The graph as one `<svg>`: group bands, edges, then nodes (links to the asset pages)."""
    definitions = project.definitions
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="graph" class="graph" '
             f'viewBox="0 0 {placed.width} {placed.height}" data-width="{placed.width}" '
             f'data-height="{placed.height}" role="img" aria-label="asset graph">'
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
             'markerHeight="6" orient="auto"><path d="M0 0L10 5L0 10z"/></marker></defs>'
             '<g id="viewport">']
    for band in placed.bands:
        parts.append(f'<g class="band"><rect x="4" y="{band.y}" width="{placed.width - 8}" '
                     f'height="{band.height}" rx="8"/><text x="14" y="{band.y + 16}">'
                     f'{esc(band.group)}</text></g>')
    for name in definitions.order:
        x2, y2 = placed.positions[name]
        for up in definitions.assets[name].upstream:
            if up not in placed.positions:
                continue
            x1, y1 = placed.positions[up]
            sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H // 2, x2, y2 + NODE_H // 2
            mid = (sx + ex) // 2
            parts.append(f'<path class="edge" data-from="{esc(up)}" data-to="{esc(name)}" '
                         f'd="M{sx} {sy}C{mid} {sy} {mid} {ey} {ex} {ey}" '
                         'marker-end="url(#arrow)"/>')
    for name in definitions.order:
        x, y = placed.positions[name]
        current = state.assets.get(name)
        status = current.state if current else "never"
        reason = current.reason if current else ""
        kind = "checkpoint" if isinstance(definitions.assets[name], CheckpointSpec) else "asset"
        title = f"{name} — {LABELS[status]}" + (f": {reason}" if reason else "")
        ups = " ".join(definitions.assets[name].upstream)
        corner = 14 if kind == "checkpoint" else 5
        parts.append(
            f'<a href="{esc(url("/assets", name))}" class="node {kind}" data-name="{esc(name)}" '
            f'data-state="{esc(status)}" data-up="{esc(ups)}">'
            f'<title>{esc(title)}</title>'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="{corner}"/>'
            f'<text x="{x + 10}" y="{y + 21}">{esc(_label(name))}</text></a>')
    parts.append("</g></svg>")
    return Html("".join(parts))


def legend() -> Html:
    """The colour key."""
    items = "".join(f'<span class="key" data-state="{s}"><i></i>{esc(LABELS[s])}</span>'
                    for s in STATES)
    return Html(f'<div class="legend">{items}</div>')


def graph_main(project: Project, placed: Layout, state: DashboardState) -> Html:
    """The `<main>` of the graph page."""
    tools = ('<div class="tools"><input id="search" type="search" placeholder="Search assets" '
             'aria-label="search assets"> <button type="button" id="fit">Fit</button> '
             '<button type="button" id="zoom-in">+</button>'
             '<button type="button" id="zoom-out">−</button> '
             '<span class="hint">drag to pan · wheel to zoom · shift-click a node to '
             'highlight its upstream and downstream</span></div>')
    count = tag("p", f"{len(placed.positions)} assets · "
                     f"{state.pending_approvals} pending approval(s)", class_="muted")
    return Html(f'<h1>Asset graph</h1>{count}{tools}{legend()}'
                f'<div id="canvas" class="canvas">{render_svg(project, placed, state)}</div>')


def build_layout(project: Project) -> Layout:
    """The layout of the project's graph (done once per server start)."""
    return layout(graph_nodes(project))

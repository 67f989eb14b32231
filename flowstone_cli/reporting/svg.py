"""An SVG picture of the asset graph, drawn here so that an HTML report needs nothing online.

A simple layered layout: each asset sits one column right of its deepest upstream, assets in a
column are ordered by where their upstream assets sit (fewer crossing edges), and edges are
curves from the right side of an upstream box to the left side of its consumer. Each box is
coloured by the asset's status.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from flowstone_cli.reporting.model import AssetRow, AssetStatus

NODE_H = 44
GAP_X = 70
GAP_Y = 18
MARGIN = 20
LEGEND_H = 34
MAX_CHARS = 32

# (fill, stroke) per status; readable when printed in grey too (stroke widths differ).
COLOURS: dict[AssetStatus, tuple[str, str]] = {
    AssetStatus.MATERIALIZED: ("#e8f5e9", "#2e7d32"),
    AssetStatus.FAILED: ("#fdecea", "#c62828"),
    AssetStatus.WIPED: ("#fff4e5", "#ef6c00"),
    AssetStatus.NEVER: ("#f5f5f5", "#9e9e9e"),
}


def _layers(assets: Sequence[AssetRow]) -> list[list[AssetRow]]:
    members = {a.name: a for a in assets}
    depth: dict[str, int] = {}
    for row in assets:  # assets come in dependency order
        ups = [depth[u] for u in row.upstream if u in members and u in depth]
        depth[row.name] = 1 + max(ups) if ups else 0
    layers: list[list[AssetRow]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for row in assets:
        layers[depth[row.name]].append(row)
    position: dict[str, float] = {}
    for layer in layers:
        def barycentre(row: AssetRow) -> float:
            ups = [position[u] for u in row.upstream if u in position]
            return sum(ups) / len(ups) if ups else float("inf")
        layer.sort(key=barycentre)  # stable: definition order breaks ties
        position.update({row.name: index for index, row in enumerate(layer)})
    return layers


def _label(name: str) -> str:
    return name if len(name) <= MAX_CHARS else name[:MAX_CHARS - 1] + "…"


def render_svg(assets: Sequence[AssetRow]) -> str:
    """The graph of `assets` (dependency order) as one standalone `<svg>` element."""
    layers = _layers(assets)
    longest = max((len(_label(a.name)) for a in assets), default=8)
    width_node = max(150, 8 * longest + 24)
    place: dict[str, tuple[int, int]] = {}
    for column, layer in enumerate(layers):
        for row_index, row in enumerate(layer):
            place[row.name] = (MARGIN + column * (width_node + GAP_X),
                               MARGIN + row_index * (NODE_H + GAP_Y))
    tallest = max((len(layer) for layer in layers), default=0)
    width = max(2 * MARGIN + len(layers) * (width_node + GAP_X) - GAP_X, 4 * 130 + 2 * MARGIN)
    height = 2 * MARGIN + tallest * (NODE_H + GAP_Y) + LEGEND_H
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="asset-graph" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="asset graph coloured by status">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
             'fill="#607d8b"/></marker></defs>']
    for row in assets:
        x2, y2 = place[row.name]
        for up in row.upstream:
            if up not in place:
                continue
            x1, y1 = place[up]
            sx, sy, ex, ey = x1 + width_node, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
            bend = GAP_X / 2
            parts.append(f'<path class="edge" d="M {sx} {sy} C {sx + bend} {sy}, {ex - bend} '
                         f'{ey}, {ex} {ey}" fill="none" stroke="#607d8b" stroke-width="1.2" '
                         'marker-end="url(#arrow)"/>')
    for row in assets:
        x, y = place[row.name]
        fill, stroke = COLOURS[row.status]
        s = row.summary
        detail = (f"{s.materialized} ok · {s.failed} failed" if row.partitions
                  else row.status.value)
        parts.append(
            f'<g class="node" data-asset="{escape(row.name)}" data-status="{row.status.value}">'
            f"<title>{escape(row.name)}: {escape(row.status.value)}</title>"
            f'<rect x="{x}" y="{y}" width="{width_node}" height="{NODE_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
            f'<text x="{x + 10}" y="{y + 18}" font-size="13" font-family="sans-serif" '
            f'fill="#212121">{escape(_label(row.name))}</text>'
            f'<text x="{x + 10}" y="{y + 35}" font-size="11" font-family="sans-serif" '
            f'fill="#555">{escape(detail)}</text></g>')
    legend_y = height - LEGEND_H + 8
    for index, (status, (fill, stroke)) in enumerate(COLOURS.items()):
        x = MARGIN + index * 130
        parts.append(f'<rect x="{x}" y="{legend_y}" width="14" height="14" rx="3" '
                     f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
                     f'<text x="{x + 20}" y="{legend_y + 12}" font-size="11" '
                     f'font-family="sans-serif" fill="#333">{escape(status.value)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)

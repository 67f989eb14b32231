"""The asset graph as text: an indented tree, Mermaid or Graphviz dot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from flowstone_cli.definitions.definitions import Definitions

GRAPH_FORMATS = ("text", "mermaid", "dot")


def _quote_dot(text: str) -> str:
    return json.dumps(text)


def to_text(definitions: Definitions, assets: Sequence[str]) -> str:
    """One line per asset in dependency order: `name <- upstream, upstream`."""
    members = set(assets)
    lines = []
    for name in assets:
        ups = [u for u in definitions.assets[name].upstream if u in members]
        lines.append(f"{name} <- {', '.join(ups)}" if ups else name)
    return "\n".join(lines)


def to_mermaid(definitions: Definitions, assets: Sequence[str],
               classes: Mapping[str, str] | None = None) -> str:
    """A Mermaid `graph LR` with one subgraph per group; `classes` maps asset -> class name."""
    members = set(assets)
    lines = ["graph LR"]
    by_group: dict[str, list[str]] = {}
    for name in assets:
        by_group.setdefault(definitions.assets[name].group, []).append(name)
    for group, names in by_group.items():
        lines.append(f"  subgraph {group}")
        lines.extend(f"    {name}[\"{name}\"]" for name in names)
        lines.append("  end")
    for name in assets:
        for up in definitions.assets[name].upstream:
            if up in members:
                lines.append(f"  {up} --> {name}")
    for name, cls in (classes or {}).items():
        if name in members:
            lines.append(f"  class {name} {cls}")
    return "\n".join(lines)


def to_dot(definitions: Definitions, assets: Sequence[str]) -> str:
    """A Graphviz digraph with one cluster per group."""
    members = set(assets)
    lines = ["digraph flowstone {", "  rankdir=LR;", "  node [shape=box];"]
    by_group: dict[str, list[str]] = {}
    for name in assets:
        by_group.setdefault(definitions.assets[name].group, []).append(name)
    for index, (group, names) in enumerate(by_group.items()):
        lines.append(f"  subgraph cluster_{index} {{ label={_quote_dot(group)};")
        lines.extend(f"    {_quote_dot(n)};" for n in names)
        lines.append("  }")
    for name in assets:
        for up in definitions.assets[name].upstream:
            if up in members:
                lines.append(f"  {_quote_dot(up)} -> {_quote_dot(name)};")
    lines.append("}")
    return "\n".join(lines)


def render_graph(definitions: Definitions, assets: Sequence[str], fmt: str) -> str:
    """Render in one of `GRAPH_FORMATS`."""
    if fmt == "mermaid":
        return to_mermaid(definitions, assets)
    if fmt == "dot":
        return to_dot(definitions, assets)
    return to_text(definitions, assets)

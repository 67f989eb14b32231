"""The server-side graph layout: every node placed, edges point right, groups in bands,
deterministic, and fit for 1,000 assets."""

from __future__ import annotations

import random

from flowstone_cli.web.layout import NODE_H, NODE_W, Node, layout


def _generated(count: int, groups: int = 8, seed: int = 3) -> list[Node]:
    rng = random.Random(seed)
    nodes: list[Node] = []
    for index in range(count):
        ups = tuple(sorted({f"a{rng.randrange(index)}" for _ in range(rng.randrange(0, 3))}))\
            if index else ()
        nodes.append(Node(f"a{index}", f"g{index * groups // count}", ups))
    return nodes


def test_every_edge_points_right_and_nodes_do_not_overlap() -> None:
    nodes = _generated(1000)
    placed = layout(nodes)
    assert set(placed.positions) == {n.name for n in nodes}
    for node in nodes:
        x, _ = placed.positions[node.name]
        for up in node.upstream:
            assert placed.positions[up][0] + NODE_W < x
    seen = set(placed.positions.values())
    assert len(seen) == len(nodes)  # one cell per node
    for x, y in placed.positions.values():
        assert 0 <= x <= placed.width - NODE_W and 0 <= y <= placed.height - NODE_H


def test_groups_get_their_own_band() -> None:
    nodes = _generated(300, groups=5)
    placed = layout(nodes)
    assert [b.group for b in placed.bands] == [f"g{i}" for i in range(5)]
    for band in placed.bands:
        for node in nodes:
            if node.group == band.group:
                y = placed.positions[node.name][1]
                assert band.y <= y and y + NODE_H <= band.y + band.height


def test_layout_is_deterministic() -> None:
    assert layout(_generated(500)) == layout(_generated(500))


def test_barycentre_ordering_untangles_a_crossing() -> None:
    # b2 reads a1 and b1 reads a2: sweeps put each under its upstream.
    nodes = [Node("a1", "g", ()), Node("a2", "g", ()), Node("b2", "g", ("a1",)),
             Node("b1", "g", ("a2",))]
    placed = layout(nodes)
    assert placed.positions["b2"][1] < placed.positions["b1"][1]

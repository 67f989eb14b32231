"""A small generic directed acyclic graph that knows nothing about assets.

Nodes are hashable values; edges point from an upstream node to the nodes that depend on it.
Insertion order is kept everywhere so that output is stable from run to run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class DAG(Generic[T]):
    """A directed graph with helpers for topological order, cycles and reachability.

    Args:
        upstream: node -> the nodes it depends on. Every dependency must itself be a key;
            unknown dependencies are ignored here (callers validate them first).
    """

    def __init__(self, upstream: Mapping[T, Iterable[T]]) -> None:
        self._up: dict[T, tuple[T, ...]] = {}
        self._down: dict[T, list[T]] = {node: [] for node in upstream}
        for node, deps in upstream.items():
            kept = tuple(dict.fromkeys(d for d in deps if d in self._down))
            self._up[node] = kept
            for dep in kept:
                self._down[dep].append(node)

    def __contains__(self, node: object) -> bool:
        return node in self._up

    def __len__(self) -> int:
        return len(self._up)

    @property
    def nodes(self) -> list[T]:
        """All nodes in insertion order."""
        return list(self._up)

    def upstream_of(self, node: T) -> tuple[T, ...]:
        """The direct dependencies of `node`."""
        return self._up[node]

    def downstream_of(self, node: T) -> tuple[T, ...]:
        """The nodes that depend directly on `node`."""
        return tuple(self._down[node])

    def find_cycle(self) -> list[T] | None:
        """Return one cycle as a path `[a, b, ..., a]`, or None when the graph is acyclic."""
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self._up, white)
        for start in self._up:
            if colour[start] != white:
                continue
            stack: list[tuple[T, int]] = [(start, 0)]
            path: list[T] = [start]
            colour[start] = grey
            while stack:
                node, index = stack[-1]
                deps = self._up[node]
                if index < len(deps):
                    stack[-1] = (node, index + 1)
                    dep = deps[index]
                    if colour[dep] == grey:
                        cycle = path[path.index(dep):] + [dep]
                        # Report in dependency direction: a -> b means "a needs b"; reverse so
                        # the path reads upstream to downstream.
                        return list(reversed(cycle))
                    if colour[dep] == white:
                        colour[dep] = grey
                        stack.append((dep, 0))
                        path.append(dep)
                else:
                    colour[node] = black
                    stack.pop()
                    path.pop()
        return None

    def topological_order(self, subset: Iterable[T] | None = None) -> list[T]:
        """Nodes ordered so that every node comes after its dependencies.

        Args:
            subset: restrict the order to these nodes (edges through other nodes still order
                them correctly only if those nodes are in the subset).

        Raises:
            ValueError: the (sub)graph has a cycle.
        """
        nodes = list(self._up) if subset is None else [n for n in dict.fromkeys(subset)]
        members = set(nodes)
        pending = {n: sum(1 for d in self._up[n] if d in members) for n in nodes}
        queue = deque(n for n in nodes if pending[n] == 0)
        order: list[T] = []
        while queue:
            node = queue.popleft()
            order.append(node)
            for child in self._down[node]:
                if child in members:
                    pending[child] -= 1
                    if pending[child] == 0:
                        queue.append(child)
        if len(order) != len(nodes):
            raise ValueError("graph has a cycle")
        return order

    def ancestors(self, node: T, depth: int | None = None) -> dict[T, int]:
        """Upstream nodes of `node` (not including it) with their distance, up to `depth`."""
        return self._walk(node, self._up, depth)

    def descendants(self, node: T, depth: int | None = None) -> dict[T, int]:
        """Downstream nodes of `node` (not including it) with their distance, up to `depth`."""
        return self._walk(node, self._down, depth)

    @staticmethod
    def _walk(node: T, edges: Mapping[T, Iterable[T]], depth: int | None) -> dict[T, int]:
        seen: dict[T, int] = {}
        frontier = [node]
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            nxt: list[T] = []
            for current in frontier:
                for other in edges[current]:
                    if other not in seen and other != node:
                        seen[other] = level
                        nxt.append(other)
            frontier = nxt
        return seen

"""The generic DAG."""

from __future__ import annotations

import pytest

from flowstone_cli.dag import DAG


def test_topological_order_puts_dependencies_first() -> None:
    dag = DAG({"c": ["a", "b"], "a": [], "b": ["a"]})
    order = dag.topological_order()
    assert order.index("a") < order.index("b") < order.index("c")


def test_find_cycle_returns_the_path() -> None:
    dag = DAG({"a": ["c"], "b": ["a"], "c": ["b"], "d": []})
    cycle = dag.find_cycle()
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    with pytest.raises(ValueError):
        dag.topological_order()


def test_ancestors_and_descendants_respect_depth() -> None:
    dag = DAG({"a": [], "b": ["a"], "c": ["b"], "d": ["c"]})
    assert dag.ancestors("d") == {"c": 1, "b": 2, "a": 3}
    assert dag.ancestors("d", depth=1) == {"c": 1}
    assert dag.descendants("a", depth=2) == {"b": 1, "c": 2}


def test_acyclic_graph_has_no_cycle() -> None:
    assert DAG({"a": [], "b": ["a"]}).find_cycle() is None

"""dbt-style selection."""

from __future__ import annotations

import pytest

from flowstone_cli import asset
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.errors import SelectionError
from flowstone_cli.planning.plan import build_plan
from flowstone_cli.planning.selection import select


def _defs() -> Definitions:
    @asset(group="ingest", tags={"source": "api"})
    def raw():
        return 1

    @asset(group="ingest", tags={"source": "db"})
    def profiles():
        return 1

    @asset(group="core")
    def clean(raw, profiles):
        return 1

    @asset(group="core", tags={"publish": ""})
    def metrics(clean):
        return 1

    @asset(group="out", tags={"publish": "yes"})
    def report(metrics):
        return 1

    return Definitions.from_specs([raw, profiles, clean, metrics, report])


@pytest.mark.parametrize(("expr", "expected"), [
    ("clean", {"clean"}),
    ("+clean", {"raw", "profiles", "clean"}),
    ("clean+", {"clean", "metrics", "report"}),
    ("+clean+", {"raw", "profiles", "clean", "metrics", "report"}),
    ("1+metrics", {"clean", "metrics"}),
    ("2+metrics", {"raw", "profiles", "clean", "metrics"}),
    ("clean+1", {"clean", "metrics"}),
    ("group:ingest", {"raw", "profiles"}),
    ("tag:publish", {"metrics", "report"}),
    ("tag:publish=yes", {"report"}),
    ("tag:source=api+", {"raw", "clean", "metrics", "report"}),
    ("*", {"raw", "profiles", "clean", "metrics", "report"}),
    ("raw profiles", {"raw", "profiles"}),
])
def test_selection_terms(expr: str, expected: set[str]) -> None:
    assert set(select(_defs(), [expr]).assets) == expected


def test_exclude_removes_from_the_union() -> None:
    chosen = select(_defs(), ["+report"], exclude=["group:ingest"])
    assert set(chosen.assets) == {"clean", "metrics", "report"}


def test_result_is_in_dependency_order_with_reasons() -> None:
    chosen = select(_defs(), ["+report"])
    assert chosen.assets.index("raw") < chosen.assets.index("clean") < chosen.assets.index(
        "report")
    assert chosen.reasons["report"] == "selected"
    assert chosen.reasons["raw"] == "upstream of report"


@pytest.mark.parametrize("expr", ["nothing", "group:none", "tag:none", "tag:publish=no",
                                  "bad-name", "kind:x"])
def test_terms_matching_nothing_are_errors(expr: str) -> None:
    with pytest.raises(SelectionError):
        select(_defs(), [expr])


def test_excluding_everything_is_an_error() -> None:
    with pytest.raises(SelectionError, match="empty"):
        select(_defs(), ["raw"], exclude=["*"])


def test_plan_steps_carry_inputs() -> None:
    defs = _defs()
    plan = build_plan(defs, select(defs, ["+clean"]))
    step = plan.steps[-1]
    assert str(step.key) == "clean"
    assert [str(k) for k in step.inputs] == ["raw", "profiles"]

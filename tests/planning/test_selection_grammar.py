"""The selection forms dbt users write: intersections, globs, `@`, and state terms."""

from __future__ import annotations

import pytest

from flowstone_cli import asset
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.errors import NothingSelectedError, SelectionError
from flowstone_cli.planning.selection import select


def _defs() -> Definitions:
    @asset(group="ingest", tags={"source": "api"})
    def raw():
        return 1

    @asset(group="ingest", tags={"source": "db"})
    def profiles():
        return 1

    @asset(group="core")
    def clean(raw):
        return 1

    @asset(group="finance", tags={"tier": "gold"})
    def monthly_revenue(clean, profiles):
        return 1

    @asset(group="finance_eu", tags={"tier": "gold-eu"})
    def monthly_costs(raw):
        return 1

    @asset(group="out", tags={"tier": "gold"})
    def report(monthly_revenue):
        return 1

    return Definitions.from_specs([raw, profiles, clean, monthly_revenue, monthly_costs, report])


@pytest.mark.parametrize(("expr", "expected"), [
    ("monthly_*", {"monthly_revenue", "monthly_costs"}),
    ("monthly_*+", {"monthly_revenue", "monthly_costs", "report"}),
    ("group:fin*", {"monthly_revenue", "monthly_costs"}),
    ("tag:tier=gold*", {"monthly_revenue", "monthly_costs", "report"}),
    ("tag:tier=gold,group:finance", {"monthly_revenue"}),
    ("tag:tier=gold,monthly_*", {"monthly_revenue"}),
    ("+report,group:ingest", {"raw", "profiles"}),
    ("raw+,group:fin*", {"monthly_revenue", "monthly_costs"}),
    # @clean: clean, its downstream, and everything that downstream needs (profiles too)
    ("@clean", {"raw", "clean", "monthly_revenue", "report", "profiles"}),
    ("@monthly_costs", {"raw", "monthly_costs"}),
    ("clean monthly_*", {"clean", "monthly_revenue", "monthly_costs"}),
])
def test_selection_forms(expr: str, expected: set[str]) -> None:
    assert set(select(_defs(), [expr]).assets) == expected


def test_state_terms_ask_the_lookup_and_take_graph_operators() -> None:
    asked: list[str] = []

    def state(term: str) -> set[str]:
        asked.append(term)
        return {"status:stale": {"clean"}, "status:failed": {"raw"},
                "status:never": {"report"}, "modified": {"clean"}}[term]

    defs = _defs()
    assert set(select(defs, ["modified+"], state=state).assets) == {"clean", "monthly_revenue",
                                                                   "report"}
    assert set(select(defs, ["status:stale"], state=state).assets) == {"clean"}
    assert set(select(defs, ["status:failed+1"], state=state).assets) == {
        "raw", "clean", "monthly_costs"}
    assert set(select(defs, ["+status:never"], state=state).assets) == {
        "raw", "profiles", "clean", "monthly_revenue", "report"}
    assert set(select(defs, ["modified+,group:out"], state=state).assets) == {"report"}
    assert set(select(defs, ["state:modified"], state=state).assets) == {"clean"}
    assert asked.count("modified") == 3


def test_state_terms_matching_nothing_mean_nothing_to_do() -> None:
    with pytest.raises(NothingSelectedError, match="nothing to do") as caught:
        select(_defs(), ["status:stale"], state=lambda term: set())
    assert caught.value.exit_code == 0
    # A state term among others that select something is fine.
    assert select(_defs(), ["raw", "status:stale"], state=lambda term: set()).assets == ("raw",)


@pytest.mark.parametrize(("expr", "message"), [
    ("monthly_zz*", "no asset matches `monthly_zz*`"),
    ("group:nope*", "no group"),
    ("tag:tier=silver*", "matches no asset"),
    ("raw,profiles", "no asset in common"),
    ("raw,", "empty part"),
    ("status:broken", "unknown status `broken`"),
    ("stauts:stale", "unknown selection method"),
    ("@+raw", "`@` takes no `+`"),
    ("modified", "needs the metadata store"),
    ("bad-name", "is not an asset name"),
])
def test_malformed_or_empty_terms_are_clear_errors(expr: str, message: str) -> None:
    with pytest.raises(SelectionError, match=message.replace("*", r"\*").replace("+", r"\+")):
        select(_defs(), [expr])

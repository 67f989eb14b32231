"""Recorded lineage walks: exact materializations, depth, and rows the definitions do not
predict (the definitions changed since they were recorded) fetched in further batches."""

from __future__ import annotations

from flowstone_cli.lineage.graph import Reach
from flowstone_cli.lineage.impact import impact
from flowstone_cli.lineage.recorded import LineageIndex, downstream, upstream
from flowstone_cli.planning.plan import StepKey
from tests.lineage.conftest import Fill, read, step

NOTHING = Reach({}, {})

# raw[d1] -> clean[d1] -> report[d1], plus a clean[d1] that read raw[d0] (an offset mapping
# the definitions no longer have), re-materialized raw[d1] with identical data, and user (a
# source without partitions) read by clean.
RAW0 = step("raw0", "raw", "d0", minute=1)
RAW1 = step("raw1", "raw", "d1", minute=2, data="same")
USER = step("user", "user", None, minute=3)
CLEAN1 = step("clean1", "clean", "d1", minute=4)
REPORT1 = step("report1", "report", "d1", minute=5)
RAW1_AGAIN = step("raw1b", "raw", "d1", minute=6, data="same")
STEPS = [RAW0, RAW1, USER, CLEAN1, REPORT1, RAW1_AGAIN]
LINEAGE = [read("clean1", RAW1), read("clean1", RAW0), read("clean1", USER),
           read("report1", CLEAN1)]


def test_upstream_walks_recorded_rows_it_was_not_told_about(filled: Fill) -> None:
    store = filled(STEPS, LINEAGE)
    with store.reader() as reader:
        answer = upstream(LineageIndex(reader), StepKey("report", "d1"), NOTHING,
                          max_depth=None)
    assert answer.recorded and answer.materialization.step_id == "report1"
    got = {(str(e.key), e.materialization.step_id, e.depth) for e in answer.entries}
    assert got == {("clean[d1]", "clean1", 1), ("raw[d1]", "raw1", 2),
                   ("raw[d0]", "raw0", 2), ("user", "user", 2)}
    raw = next(e for e in answer.entries if e.materialization.step_id == "raw1")
    assert raw.materialization.current is False  # raw1b superseded it
    assert [str(k) for k in raw.via] == ["clean[d1]"]


def test_upstream_depth_limit(filled: Fill) -> None:
    store = filled(STEPS, LINEAGE)
    with store.reader() as reader:
        answer = upstream(LineageIndex(reader), StepKey("report", "d1"), NOTHING, max_depth=1)
    assert [str(e.key) for e in answer.entries] == ["clean[d1]"]


def test_upstream_of_a_partition_never_materialized_uses_the_prediction(filled: Fill) -> None:
    store = filled(STEPS, LINEAGE)
    predicted = Reach({StepKey("clean", "d2"): 1, StepKey("user", None): 2},
                      {StepKey("clean", "d2"): [StepKey("report", "d2")],
                       StepKey("user", None): [StepKey("clean", "d2")]})
    with store.reader() as reader:
        answer = upstream(LineageIndex(reader), StepKey("report", "d2"), predicted,
                          max_depth=None)
    assert not answer.recorded and answer.materialization is None
    assert [(str(e.key), e.recorded, e.materialization is not None) for e in answer.entries] \
        == [("clean[d2]", False, False), ("user", False, True)]


def test_downstream_finds_consumers_of_every_materialization(filled: Fill) -> None:
    store = filled(STEPS, LINEAGE)
    with store.reader() as reader:
        answer = downstream(LineageIndex(reader), StepKey("raw", "d1"), NOTHING,
                            max_depth=None)
    assert [(str(e.key), e.depth) for e in answer.recorded] == [("clean[d1]", 1),
                                                                ("report[d1]", 2)]
    assert answer.materialization.step_id == "raw1b"


def test_impact_flags_what_the_lineage_records(filled: Fill) -> None:
    store = filled(STEPS, LINEAGE)
    reach = Reach({StepKey("clean", "d1"): 1, StepKey("report", "d1"): 2,
                   StepKey("report", "d9"): 2},
                  {StepKey("clean", "d1"): [StepKey("raw", "d1")],
                   StepKey("report", "d1"): [StepKey("clean", "d1")],
                   StepKey("report", "d9"): [StepKey("clean", "d1")]})
    with store.reader() as reader:
        answer = impact(LineageIndex(reader), StepKey("raw", "d1"), reach)
    assert [(str(e.key), e.recorded) for e in answer.impacted] == [("clean[d1]", True),
                                                                   ("report[d1]", True)]
    assert answer.counts == {"clean": 1, "report": 1}
    assert dict(answer.missing) == {"report": 1}

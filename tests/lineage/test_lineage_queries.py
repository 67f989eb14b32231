"""The narrow queries behind lineage, status and `sql`, on a real DuckDB file."""

from __future__ import annotations

import pytest

from flowstone_cli.errors import UsageError
from flowstone_cli.metadata import MetadataStore, StepStatus
from tests.lineage.conftest import Fill, read, step


def test_latest_for_keys_matches_exact_pairs_only(filled: Fill) -> None:
    store = filled([step("a1", "a", "p1", minute=1), step("a2", "a", "p2", minute=2),
                    step("b1", "b", "p1", minute=3), step("b2", "b", "p2", minute=4)], [])
    with store.reader() as reader:
        found = reader.latest_for_keys({("a", "p1"), ("b", "p2")})
    assert {k: r.step_id for k, r in found.materializations.items()} == {
        ("a", "p1"): "a1", ("b", "p2"): "b2"}


def test_latest_skips_wiped_and_failed_but_attempts_see_failures(filled: Fill) -> None:
    store = filled([step("old", "a", "p", minute=1), step("new", "a", "p", minute=2),
                    step("wiped", "a", "p", minute=3, wiped=True),
                    step("boom", "a", "p", minute=4, status=StepStatus.FAILED),
                    step("u", "u", None, minute=5)], [])
    with store.reader() as reader:
        found = reader.latest_for_keys({("a", "p"), ("u", None), ("a", "missing")})
    assert found.materializations[("a", "p")].step_id == "new"
    assert found.attempts[("a", "p")].step_id == "boom"
    assert found.attempts[("a", "p")].status is StepStatus.FAILED
    assert found.materializations[("u", None)].partition is None
    assert ("a", "missing") not in found.materializations


def test_materializations_of_keys_include_wiped_ones_and_unpartitioned(filled: Fill) -> None:
    store = filled([step("a1", "a", "p", minute=1, wiped=True), step("a2", "a", "p", minute=2),
                    step("x", "a", "q", minute=3), step("u", "u", None, minute=4),
                    step("f", "a", "p", minute=5, status=StepStatus.FAILED)], [])
    with store.reader() as reader:
        records = reader.materializations_of_keys([("a", "p"), ("u", None)])
    assert sorted(r.step_id for r in records) == ["a1", "a2", "u"]
    assert next(r for r in records if r.step_id == "a1").wiped is True


def test_lineage_rows_both_ways_and_steps_by_id(filled: Fill) -> None:
    up = step("up", "raw", "p", minute=1)
    down = step("down", "clean", "p", minute=2)
    store = filled([up, down], [read("down", up)])
    with store.reader() as reader:
        assert [r.upstream_step_id for r in reader.lineage_of(["down"])] == ["up"]
        assert [r.step_id for r in reader.consumers_of_ids(["up"])] == ["down"]
        assert set(reader.steps_by_id(["up", "nope"])) == {"up"}
        assert reader.lineage_of([]) == [] and reader.steps_by_id([]) == {}


def test_recorded_partitions_and_asset_summary(filled: Fill) -> None:
    store = filled([step("a1", "a", "p1", minute=1), step("a2", "a", "p2", minute=2),
                    step("a3", "a", "p2", minute=3, status=StepStatus.FAILED),
                    step("a4", "a", "p3", minute=4, wiped=True), step("u", "u", None, minute=5)],
                   [])
    with store.reader() as reader:
        assert reader.recorded_partitions(["a", "u"]) == {"a": ["p1", "p2", "p3"]}
        summary = reader.asset_summary(["a", "u", "never"])
    assert (summary["a"].materialized, summary["a"].failed, summary["a"].wiped) == (1, 1, 1)
    assert summary["u"].materialized == 1 and "never" not in summary


def test_read_only_query_returns_utc_times_and_duplicate_columns(filled: Fill) -> None:
    store = filled([step("a1", "a", "p", minute=1)], [])
    with store.reader() as reader:
        result = reader.read_only_query("SELECT s.asset, r.run_id AS asset, s.ended_at "
                                        "FROM steps s JOIN runs r USING (run_id)")
    assert result.columns == ("asset", "asset", "ended_at")
    assert result.types[-1] == "TIMESTAMP WITH TIME ZONE"
    assert result.rows[0][:2] == ("a", "run-1")
    assert result.rows[0][2].isoformat() == "2025-01-01T00:01:00+00:00"


@pytest.mark.parametrize("sql", [
    "INSERT INTO runs (run_id, status) VALUES ('x', 'running')",
    "COPY steps TO '/tmp/flowstone-copy.csv'",
    "PRAGMA enable_profiling",
    "SELECT 1; SELECT 2",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SELECT * FROM no_such_table",
    "SELEC 1",
])
def test_read_only_query_refuses_anything_but_one_read(filled: Fill, sql: str) -> None:
    store = filled([step("a1", "a", "p", minute=1)], [])
    with store.reader() as reader, pytest.raises(UsageError):
        reader.read_only_query(sql)


def test_read_only_query_on_a_missing_store_reads_empty_tables(tmp_path) -> None:
    store = MetadataStore(tmp_path / "none.duckdb")
    with store.reader() as reader:
        assert reader.read_only_query("SELECT count(*) FROM steps").rows == [(0,)]
        with pytest.raises(UsageError, match="cannot read files"):
            reader.read_only_query("SELECT * FROM read_csv('/etc/passwd')")
    assert not store.exists()

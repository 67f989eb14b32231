"""Round-trips and queries of the metadata store on a real DuckDB file."""

from __future__ import annotations

import json
import re
from datetime import timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from flowstone_cli.errors import NotFoundError, UsageError
from flowstone_cli.metadata import (
    EventLevel,
    EventRecord,
    LineageRecord,
    MetadataStore,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    new_id,
    new_run_id,
    utcnow,
)

T0 = utcnow().replace(microsecond=123456)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def step(run_id: str, asset: str, partition: str | None, status: StepStatus, *, t: float = 0,
         attempt: int = 1, **extra) -> StepRecord:
    return StepRecord(new_id(), run_id, asset, partition, attempt, status, started_at=at(t),
                      ended_at=at(t + 1), **extra)


@pytest.fixture
def store(tmp_path: Path) -> MetadataStore:
    return MetadataStore(tmp_path / "flowstone.duckdb", lock_timeout=5)


def test_run_record_round_trips_every_field(store: MetadataStore) -> None:
    run = RunRecord(new_run_id(), RunStatus.RUNNING, trigger="cli", selection="+daily_report",
                    command="flowstone materialize +daily_report", actor="ana", host="box",
                    pid=4242, flowstone_version="0.1.0", started_at=at(0), ended_at=at(5),
                    heartbeat_at=at(4), tags={"team": "data", "n": 1}, backfill_id="bf1",
                    parent_run_id="20250101-000000-abcdef", summary={"succeeded": 3})
    with store.writer() as w:
        w.insert_run(run)
    with store.reader() as r:
        assert r.get_run(run.run_id) == run


def test_step_record_round_trips_every_field(store: MetadataStore) -> None:
    s = StepRecord(new_id(), "run1", "raw_events", "2025-01-15", 2, StepStatus.FAILED,
                   reason="code changed", started_at=at(0), ended_at=at(2), duration_ms=2000.5,
                   code_version="cv", data_version="dv", size_bytes=10**12, rows=10**10,
                   uri="s3://b/raw_events/2025-01-15.parquet", io_manager="parquet", pid=7,
                   host="box", error_code="user_error", error_message="boom",
                   traceback="Traceback...", metadata={"nested": {"a": [1, 2]}}, wiped=True)
    with store.writer() as w:
        w.insert_steps([s])
    with store.reader() as r:
        assert r.get_step(s.step_id) == s
        assert r.steps_for_run("run1") == [s]


def test_lineage_and_event_records_round_trip(store: MetadataStore) -> None:
    lin = LineageRecord("s2", "s1", "raw_events", "2025-01-15", "dv1")
    unpartitioned = LineageRecord("s2", "s0", "config")
    ev = EventRecord(new_id(), "run1", "s2", at(1), EventLevel.WARNING, "step_retried",
                     asset="clean", partition="2025-01-15", message="retrying",
                     data={"attempt": 2})
    with store.writer() as w:
        w.insert_lineage([lin, unpartitioned])
        w.insert_events([ev])
    with store.reader() as r:
        assert sorted(r.lineage_for_steps(["s2"])["s2"], key=lambda x: x.upstream_step_id) == [
            unpartitioned, lin]
        assert r.events_for_run("run1") == [ev]


def test_times_come_back_as_aware_utc(store: MetadataStore) -> None:
    berlin = timezone(timedelta(hours=2))
    run = RunRecord("r-tz", RunStatus.RUNNING, started_at=T0.astimezone(berlin))
    with store.writer() as w:
        w.insert_run(run)
    with store.reader() as r:
        got = r.get_run("r-tz").started_at
    assert got == T0 and got.tzinfo == timezone.utc


def test_naive_datetime_is_refused(store: MetadataStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"), store.writer() as w:
        w.insert_run(RunRecord("r", RunStatus.RUNNING, started_at=T0.replace(tzinfo=None)))


def test_json_columns_are_written_with_sorted_keys(store: MetadataStore) -> None:
    with store.writer() as w:
        w.insert_run(RunRecord("r", RunStatus.RUNNING, tags={"b": 1, "a": 2}))
    with duckdb.connect(str(store.path), read_only=True) as conn:
        assert conn.execute("SELECT tags FROM runs").fetchone()[0] == '{"a": 2, "b": 1}'


def test_update_run_sets_fields_and_serialises_json(store: MetadataStore) -> None:
    rid = new_run_id()
    with store.writer() as w:
        w.insert_run(RunRecord(rid, RunStatus.RUNNING, started_at=at(0)))
    with store.writer() as w:
        w.update_run(rid, status=RunStatus.SUCCEEDED, ended_at=at(9), summary={"steps": 4})
    with store.reader() as r:
        run = r.get_run(rid)
    assert (run.status, run.ended_at, run.summary) == (RunStatus.SUCCEEDED, at(9), {"steps": 4})


def test_update_run_refuses_unknown_or_key_columns(store: MetadataStore) -> None:
    with store.writer() as w:
        w.insert_run(RunRecord("r1", RunStatus.RUNNING))
        with pytest.raises(ValueError, match="colour"):
            w.update_run("r1", colour="red")
        with pytest.raises(ValueError, match="run_id"):
            w.update_run("r1", run_id="r2")
        with pytest.raises(ValueError, match="not-a-status"):
            w.update_run("r1", status="not-a-status")
        with pytest.raises(ValueError, match="step_id"):
            w.update_step("s1", step_id="s2")


def test_update_of_a_missing_row_is_not_found(store: MetadataStore) -> None:
    with store.writer() as w:
        with pytest.raises(NotFoundError):
            w.update_run("nope", status="failed")
        with pytest.raises(NotFoundError):
            w.update_step("nope", wiped=True)


def test_update_step_sets_fields(store: MetadataStore) -> None:
    s = step("r", "a", None, StepStatus.SUCCEEDED)
    with store.writer() as w:
        w.insert_steps([s])
        w.update_step(s.step_id, wiped=True, metadata={"why": "wipe"})
    with store.reader() as r:
        got = r.get_step(s.step_id)
    assert got.wiped and got.metadata == {"why": "wipe"}


def test_upsert_replaces_a_running_step_by_id(store: MetadataStore) -> None:
    running = step("r", "a", "p1", StepStatus.RUNNING)
    other = step("r", "b", "p1", StepStatus.RUNNING)
    with store.writer() as w:
        w.insert_steps([running, other])
    done = StepRecord(running.step_id, "r", "a", "p1", 1, StepStatus.SUCCEEDED,
                      started_at=at(0), ended_at=at(3), data_version="dv")
    with store.writer() as w:
        w.upsert_steps([done])
    with store.reader() as r:
        assert r.steps_for_run("r") == [done, other]  # same start: by attempt, then asset
        assert r.get_step(running.step_id) == done


def test_upsert_inserts_new_steps(store: MetadataStore) -> None:
    s = step("r", "a", None, StepStatus.SUCCEEDED)
    with store.writer() as w:
        w.upsert_steps([s])
        w.upsert_steps([s])
    with store.reader() as r:
        assert r.steps_for_run("r") == [s]


def test_batch_insert_of_thousands_of_steps(store: MetadataStore) -> None:
    batch = [step("r", f"asset_{i % 50}", f"p{i}", StepStatus.SUCCEEDED, t=i) for i in range(5000)]
    with store.writer() as w:
        w.insert_steps(batch)
    with store.reader() as r:
        got = r.steps_for_run("r")
        assert got == batch  # ordered by started_at
        assert len(r.lineage_for_steps([s.step_id for s in batch])) == 5000


def test_get_run_by_unique_prefix(store: MetadataStore) -> None:
    with store.writer() as w:
        w.insert_run(RunRecord("20250115-093012-aaaaaa", RunStatus.SUCCEEDED))
        w.insert_run(RunRecord("20250116-100000-bbbbbb", RunStatus.SUCCEEDED))
    with store.reader() as r:
        assert r.get_run("20250115").run_id == "20250115-093012-aaaaaa"


def test_ambiguous_prefix_is_a_usage_error_listing_candidates(store: MetadataStore) -> None:
    with store.writer() as w:
        w.insert_run(RunRecord("20250115-093012-aaaaaa", RunStatus.SUCCEEDED))
        w.insert_run(RunRecord("20250115-100000-bbbbbb", RunStatus.SUCCEEDED))
    with store.reader() as r, pytest.raises(UsageError) as info:
        r.get_run("2025")
    assert "20250115-093012-aaaaaa" in str(info.value)
    assert "20250115-100000-bbbbbb" in str(info.value)


def test_unknown_run_is_not_found_with_a_hint(store: MetadataStore) -> None:
    with store.writer() as w:
        w.insert_run(RunRecord("20250115-093012-aaaaaa", RunStatus.SUCCEEDED))
    with store.reader() as r:
        with pytest.raises(NotFoundError) as info:
            r.get_run("20990101")
        assert "flowstone runs list" in info.value.hint
        with pytest.raises(NotFoundError, match="'202'"):
            r.get_run("202")  # too short to be a prefix
        with pytest.raises(NotFoundError):
            r.get_step("nope")


def test_list_runs_is_newest_first_with_limit_and_status(store: MetadataStore) -> None:
    runs = [RunRecord(f"run-{i}", RunStatus.FAILED if i % 2 else RunStatus.SUCCEEDED,
                      started_at=at(i)) for i in range(6)]
    with store.writer() as w:
        for run in runs:
            w.insert_run(run)
    with store.reader() as r:
        assert [x.run_id for x in r.list_runs(limit=3)] == ["run-5", "run-4", "run-3"]
        assert [x.run_id for x in r.list_runs(status="failed")] == ["run-5", "run-3", "run-1"]
        assert [x.run_id for x in r.runs_with_status(RunStatus.SUCCEEDED)] == [
            "run-4", "run-2", "run-0"]
        with pytest.raises(UsageError, match="bogus"):
            r.list_runs(status="bogus")


def test_latest_materializations_pick_the_newest_succeeded_unwiped_step(
        store: MetadataStore) -> None:
    old = step("r1", "a", "p1", StepStatus.SUCCEEDED, t=0)
    new = step("r2", "a", "p1", StepStatus.SUCCEEDED, t=10)
    failed_later = step("r3", "a", "p1", StepStatus.FAILED, t=20)
    wiped = step("r1", "a", "p2", StepStatus.SUCCEEDED, t=0, wiped=True)
    unpartitioned = step("r1", "b", None, StepStatus.SUCCEEDED, t=0)
    other = step("r1", "c", None, StepStatus.SUCCEEDED, t=0)
    with store.writer() as w:
        # "Newest" is the order of recording (the store's sequence), not the clock.
        w.insert_steps([old, new, failed_later, wiped, unpartitioned, other])
    with store.reader() as r:
        assert r.latest_materializations() == {("a", "p1"): new, ("b", None): unpartitioned,
                                               ("c", None): other}
        assert r.latest_materializations(["a", "b"]) == {("a", "p1"): new,
                                                         ("b", None): unpartitioned}
        assert r.latest_materializations([]) == {}


def test_latest_attempts_ignore_running_skipped_and_up_to_date(store: MetadataStore) -> None:
    ok = step("r1", "a", "p1", StepStatus.SUCCEEDED, t=0)
    failed = step("r2", "a", "p1", StepStatus.FAILED, t=10)
    later_noise = [step("r3", "a", "p1", s, t=20) for s in
                   (StepStatus.RUNNING, StepStatus.SKIPPED, StepStatus.UP_TO_DATE)]
    timed_out = step("r1", "b", None, StepStatus.TIMED_OUT, t=0)
    with store.writer() as w:
        w.insert_steps([ok, failed, timed_out, *later_noise])
    with store.reader() as r:
        assert r.latest_attempts() == {("a", "p1"): failed, ("b", None): timed_out}
        assert r.latest_attempts(["b"]) == {("b", None): timed_out}


def test_the_step_recorded_last_is_current_whatever_its_clock_says(
        store: MetadataStore) -> None:
    # Recorded by a host whose clock is a day behind: its end time is older, yet it is newer.
    first = step("r1", "a", None, StepStatus.SUCCEEDED, t=86_400, attempt=1)
    second = step("r2", "a", None, StepStatus.SUCCEEDED, t=0, attempt=1)
    with store.writer() as w:
        w.insert_steps([first])
    with store.writer() as w:
        w.insert_steps([second])
    with store.reader() as r:
        assert r.latest_materializations(["a"])[("a", None)] == second


def test_lineage_both_directions_map_every_requested_id(store: MetadataStore) -> None:
    rows = [LineageRecord("down1", "up1", "raw", "p1", "dv"),
            LineageRecord("down1", "up2", "cfg"),
            LineageRecord("down2", "up1", "raw", "p1", "dv")]
    with store.writer() as w:
        w.insert_lineage(rows)
    with store.reader() as r:
        assert r.lineage_for_steps(["down1", "nothing"]) == {
            "down1": [rows[1], rows[0]], "nothing": []}
        assert r.consumers_of(["up1", "up2", "nothing"]) == {
            "up1": [rows[0], rows[2]], "up2": [rows[1]], "nothing": []}
        assert r.lineage_for_steps([]) == {}


def test_events_are_ordered_by_time_and_filtered_by_kind(store: MetadataStore) -> None:
    evs = [EventRecord(new_id(), "r", None, at(t), EventLevel.INFO, kind)
           for t, kind in [(2, "step_succeeded"), (0, "run_started"), (1, "step_started"),
                           (1, "step_log")]]
    with store.writer() as w:
        w.insert_events(evs)
        w.insert_events([EventRecord(new_id(), "other", None, at(0), EventLevel.INFO, "x")])
    with store.reader() as r:
        assert [e.kind for e in r.events_for_run("r")] == [
            "run_started", "step_started", "step_log", "step_succeeded"]
        assert [e.kind for e in r.events_for_run("r", kinds=["step_succeeded", "run_started"])
                ] == ["run_started", "step_succeeded"]
        assert r.events_for_run("r", kinds=[]) == []


def test_to_dict_is_json_ready(store: MetadataStore) -> None:
    run = RunRecord("r", RunStatus.WAITING_APPROVAL, started_at=T0, tags={"a": 1})
    data = json.loads(json.dumps(run.to_dict()))
    assert data["status"] == "waiting_approval"
    assert data["started_at"] == T0.isoformat()
    s = step("r", "a", None, StepStatus.UP_TO_DATE)
    assert json.loads(json.dumps(s.to_dict()))["status"] == "up_to_date"


def test_ids_have_the_documented_shapes() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", new_id())
    rid = new_run_id(T0)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", rid)
    assert rid.startswith(T0.strftime("%Y%m%d-%H%M%S-"))
    assert new_run_id(at(-1)) < new_run_id(at(1))
    assert utcnow().tzinfo is not None

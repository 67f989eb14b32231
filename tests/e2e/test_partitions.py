"""Partitions, mappings, backfills and tenant isolation, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from tests.cli_runner import copy_example, copy_fixture, flowstone_executable, run_cli


def query(project: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_backfill_materializes_31_partitions_of_each_asset_then_skips_them(
        tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    first = run_cli("-p", str(project), "backfill", "+daily_report", "--from", "2025-01-01",
                    "--to", "2025-01-31", "--json")
    assert first.code == 0, first.stdout + first.stderr
    counts = dict(query(project, "SELECT asset, count(DISTINCT partition) FROM steps "
                                 "WHERE status = 'succeeded' AND partition IS NOT NULL "
                                 "GROUP BY asset"))
    assert counts == {"raw_events": 31, "cleaned_events": 31, "daily_metrics": 31,
                      "daily_report": 31}
    assert (project / "data" / "daily_report" / "2025-01-31.json").exists()
    again = run_cli("-p", str(project), "backfill", "+daily_report", "--from", "2025-01-01",
                    "--to", "2025-01-31", "--json")
    assert again.code == 0
    assert again.json()["counts"] == {"up_to_date": 125}
    shown = run_cli("-p", str(project), "backfill", "show", first.json()["backfill"][
        "backfill_id"], "--json").json()
    assert shown["grid"]["2025-01-15"] == {"raw_events": "succeeded",
                                           "cleaned_events": "succeeded",
                                           "daily_metrics": "succeeded",
                                           "daily_report": "succeeded"}


def test_killed_backfill_resumes_only_the_rest_without_duplicates(tmp_path: Path) -> None:
    project = copy_fixture("daily_chain", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    env["STEP_SLEEP"] = "0.15"
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "backfill",
                             "first+", "--exclude", "day_over_day", "--from", "2025-01-01",
                             "--to", "2025-01-20", "--max-parallel", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if (project / "data" / "flowstone.duckdb").exists():
            try:
                done = query(project, "SELECT count(*) FROM steps WHERE status='succeeded'")
            except duckdb.IOException:
                continue
            if done[0][0] >= 10:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    backfill_id = query(project, "SELECT backfill_id FROM backfills")[0][0]
    before = query(project, "SELECT count(*) FROM steps WHERE status='succeeded'")[0][0]
    assert 10 <= before < 60
    resumed = run_cli("-p", str(project), "backfill", "resume", backfill_id, "--json",
                      env={"STEP_SLEEP": "0"})
    assert resumed.code == 0, resumed.stdout + resumed.stderr
    ran = resumed.json()["counts"]
    assert ran.get("up_to_date", 0) == before
    assert ran.get("succeeded", 0) == 60 - before
    duplicates = query(project, "SELECT asset, partition, count(*) FROM steps WHERE "
                                "status = 'succeeded' GROUP BY ALL HAVING count(*) > 1")
    assert duplicates == []
    statuses = dict(query(project, "SELECT run_id, status FROM runs"))
    assert sorted(statuses.values()) == ["crashed", "succeeded"]


def test_max_parallel_limits_partitions_in_flight(tmp_path: Path) -> None:
    project = copy_fixture("daily_chain", tmp_path)
    result = run_cli("-p", str(project), "backfill", "first", "--partitions", "2025-01-01",
                     "2025-01-02", "2025-01-03", "--max-parallel", "1", "--json",
                     env={"STEP_SLEEP": "0.2"})
    assert result.code == 0, result.stderr
    spans = query(project, "SELECT epoch_ms(started_at), epoch_ms(ended_at) FROM steps "
                           "WHERE status = 'succeeded' ORDER BY started_at")
    assert all(later[0] >= earlier[1] - 5 for earlier, later in zip(spans, spans[1:]))


def test_time_window_offset_reads_yesterday(tmp_path: Path) -> None:
    project = copy_fixture("daily_chain", tmp_path)
    result = run_cli("-p", str(project), "backfill", "+day_over_day", "--from", "2025-01-01",
                     "--to", "2025-01-03", "--json")
    assert result.code == 0, result.stdout + result.stderr
    lineage = query(project, "SELECT s.partition, l.upstream_partition FROM lineage l JOIN "
                             "steps s ON s.step_id = l.step_id WHERE s.asset = 'day_over_day' "
                             "ORDER BY 1")
    assert lineage == [("2025-01-02", "2025-01-01"), ("2025-01-03", "2025-01-02")]


def test_partitioned_selection_without_partitions_is_an_error_with_a_hint(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    result = run_cli("-p", str(project), "materialize", "raw_events")
    assert result.code == 2
    assert "is partitioned" in result.stderr and "--partition" in result.stderr


def test_tenant_region_date_partition_is_stored_hive_style_and_rollup_reads_its_month(
        tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    one = run_cli("-p", str(project), "materialize", "tenant_orders", "--partition",
                  "tenant=acme,region=eu,date=2025-01-15", "--json")
    assert one.code == 0, one.stderr
    assert (project / "data" / "tenant_orders" / "tenant=acme" / "region=eu" /
            "date=2025-01-15.pkl").exists()
    run_cli("-p", str(project), "backfill", "tenant_orders", "--from", "2025-01-01", "--to",
            "2025-02-02")
    rollup = run_cli("-p", str(project), "materialize", "monthly_revenue", "--partition",
                     "2025-01", "--json")
    assert rollup.code == 0, rollup.stdout + rollup.stderr
    read = {row[0] for row in query(project, "SELECT l.upstream_partition FROM lineage l JOIN "
                                             "steps s ON s.step_id = l.step_id WHERE s.asset = "
                                             "'monthly_revenue' AND s.status = 'succeeded'")}
    expected = {f"tenant={t},region={r},date=2025-01-{d:02d}" for t in ("acme", "globex")
                for r in ("eu", "us") for d in range(1, 32)}
    assert read == expected
    report = json.loads((project / "data" / "monthly_revenue" / "2025-01.json").read_text())
    assert report["partitions_read"] == 124


@pytest.mark.parametrize("key", ["../x", "/etc", "x" * 300, "2025-01-15/../../x",
                                 "tenant=../../etc,region=eu,date=2025-01-15"])
def test_hostile_partition_keys_are_refused_and_nothing_is_written_outside(
        tmp_path: Path, key: str) -> None:
    project = copy_example(tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    asset = "tenant_orders" if key.startswith("tenant=") else "raw_events"
    result = run_cli("-p", str(project), "materialize", asset, "--partition", key)
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    after = {p for p in tmp_path.rglob("*")} - before
    assert all(project in p.parents or p == project for p in after)
    assert not (project / "data").exists() or not any((project / "data").rglob("*.pkl"))


def test_dynamic_partitions_are_managed_from_the_cli(tmp_path: Path) -> None:
    project = copy_fixture("dynamic", tmp_path)
    unknown = run_cli("-p", str(project), "materialize", "customer_report", "--partition", "c1")
    assert unknown.code == 2 and "partitions add customers c1" in unknown.stderr
    assert run_cli("-p", str(project), "partitions", "add", "customers", "c1", "c2").code == 0
    assert run_cli("-p", str(project), "partitions", "list", "customers", "--json").json() == [
        "c1", "c2"]
    ran = run_cli("-p", str(project), "materialize", "customer_report", "--partition", "c1")
    assert ran.code == 0, ran.stderr
    status = run_cli("-p", str(project), "partitions", "status", "customer_report",
                     "--json").json()
    assert status["materialized"] == ["c1"] and status["missing"] == ["c2"]
    assert run_cli("-p", str(project), "partitions", "remove", "customers", "c2").code == 0
    assert run_cli("-p", str(project), "partitions", "list", "customers",
                   "--json").json() == ["c1"]
    bad = run_cli("-p", str(project), "partitions", "add", "customers", "../evil")
    assert bad.code == 2


def test_mapping_that_crosses_tenants_is_a_load_time_error(tmp_path: Path) -> None:
    project = copy_fixture("tenants", tmp_path)
    result = run_cli("-p", str(project), "check", env={"WITH_CROSS_TENANT": "1"})
    assert result.code == 2
    assert "would read other tenants' partitions" in result.stderr
    assert "cross_tenant=True" in result.stderr


def test_reading_another_tenants_partition_fails_clearly_at_run_time(tmp_path: Path) -> None:
    project = copy_fixture("tenants", tmp_path)
    env = {"WITH_BUGGY_MAPPING": "1"}
    assert run_cli("-p", str(project), "backfill", "secrets", "--all", env=env).code == 0
    result = run_cli("-p", str(project), "materialize", "leaky", "--partition",
                     "tenant=acme,date=2025-01-02", "--json", env=env)
    assert result.code == 1
    details = run_cli("-p", str(project), "runs", "show", result.json()["run_id"], "--json",
                      env=env).json()
    step = next(s for s in details["steps"] if s["asset"] == "leaky")
    assert step["error_code"] == "cross_tenant_read"
    assert "tried to read `secrets[tenant=globex,date=2025-01-02]`" in step["error_message"]
    assert not (project / "data" / "leaky").exists()


def test_tenant_filter_on_list_and_partition_status(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    listed = run_cli("-p", str(project), "list", "--tenant", "acme", "--json").json()
    assert [a["name"] for a in listed] == ["tenant_orders"]
    run_cli("-p", str(project), "materialize", "tenant_orders", "--partition", "2025-01-02")
    status = run_cli("-p", str(project), "partitions", "status", "tenant_orders", "--tenant",
                     "acme", "--json").json()
    assert status["materialized"] == ["tenant=acme,region=eu,date=2025-01-02",
                                      "tenant=acme,region=us,date=2025-01-02"]


def test_runs_list_filters_by_tenant(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    run_cli("-p", str(project), "materialize", "tenant_orders", "--partition",
            "tenant=acme,region=eu,date=2025-01-02")
    run_cli("-p", str(project), "materialize", "tenant_orders", "--partition",
            "tenant=globex,region=eu,date=2025-01-02")
    acme = run_cli("-p", str(project), "runs", "list", "--tenant", "acme", "--json").json()
    everyone = run_cli("-p", str(project), "runs", "list", "--json").json()
    assert len(everyone) == 2 and len(acme) == 1


def test_lineage_output_filters_by_tenant(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    run_cli("-p", str(project), "backfill", "tenant_orders", "--from", "2025-01-01", "--to",
            "2025-01-31")
    assert run_cli("-p", str(project), "materialize", "monthly_revenue", "--partition",
                   "2025-01").code == 0
    everyone = run_cli("-p", str(project), "lineage", "upstream", "monthly_revenue",
                       "--partition", "2025-01", "--json").json()
    acme = run_cli("-p", str(project), "lineage", "upstream", "monthly_revenue", "--partition",
                   "2025-01", "--tenant", "acme", "--json").json()
    assert len(everyone["entries"]) == 124
    assert len(acme["entries"]) == 62
    assert all("tenant=acme" in e["partition"] for e in acme["entries"])

"""dbt models as assets, end to end through the real `flowstone` command.

The fixture `tests/fixtures/dbt_pipeline` mixes a Python asset upstream (`raw_orders`, a Parquet
file that the dbt project reads as a source), a dbt project with a seed, four models and tests
(dbt-duckdb, its own warehouse file), and Python assets downstream that read dbt's tables.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_runner import FIXTURES, run_cli

pytestmark = pytest.mark.slow

DBT_ASSETS = {"customers", "stg_orders", "stg_customers", "orders_enriched", "revenue_by_country"}
ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
TIMEOUT = 600


def _project(tmp_path: Path) -> Path:
    dest = tmp_path / "dbt_pipeline"
    shutil.copytree(FIXTURES / "dbt_pipeline", dest, ignore=shutil.ignore_patterns(
        "__pycache__", "data", "target", "logs", "warehouse.duckdb*", ".flowstone"))
    return dest


def _cli(project: Path, *args: str, env: dict[str, str] | None = None):
    return run_cli("-p", str(project), *args, env={**ENV, **(env or {})}, timeout=TIMEOUT)


def _dbt_builds(project: Path, run_id: str) -> list[str]:
    logs = _cli(project, "runs", "logs", run_id, "--json")
    assert logs.code == 0, logs.stderr
    return [e["message"] for e in logs.json() if e["message"].startswith("dbt build ")]


def _steps(project: Path, run_id: str) -> dict[str, dict]:
    shown = _cli(project, "runs", "show", run_id, "--json")
    assert shown.code == 0, shown.stderr
    return {s["asset"]: s for s in shown.json()["steps"]}


def _plan(project: Path) -> dict[str, tuple[str, str]]:
    planned = _cli(project, "plan", "*", "--json")
    assert planned.code == 0, planned.stderr
    return {s["asset"]: (s["action"], s["reason"]) for s in planned.json()["steps"]}


def test_mixed_pipeline_runs_dbt_once_with_lineage_and_staleness(tmp_path: Path) -> None:
    project = _project(tmp_path)
    listed = _cli(project, "list", "--json")
    assert listed.code == 0, listed.stderr
    assets = {a["name"]: a for a in listed.json()["assets"]} if isinstance(
        listed.json(), dict) else {a["name"]: a for a in listed.json()}
    assert DBT_ASSETS <= set(assets)
    assert "raw_orders" in assets["stg_orders"]["deps"]  # the dbt source is the Python asset

    ran = _cli(project, "materialize", "*", "--json")
    assert ran.code == 0, ran.stdout + ran.stderr
    summary = ran.json()
    assert summary["counts"] == {"succeeded": 8}
    run_id = summary["run_id"]

    # ONE dbt invocation for the five dbt assets of the run, each recorded on its own.
    builds = _dbt_builds(project, run_id)
    assert len(builds) == 1, builds
    assert set(builds[0].split("--select ")[1].split(" --")[0].split()) == DBT_ASSETS
    steps = _steps(project, run_id)
    invocations = {steps[name]["metadata"]["dbt_invocation_id"] for name in DBT_ASSETS}
    assert len(invocations) == 1
    revenue = steps["revenue_by_country"]
    assert revenue["status"] == "succeeded" and revenue["io_manager"] == "external"
    assert revenue["metadata"]["dbt_tests"] == {"not_null_revenue_by_country_revenue": "pass"}
    assert len(revenue["metadata"]["compiled_sql_sha256"]) == 64
    report = json.loads((project / "data" / "revenue_report.json").read_text())
    assert report == {"FI": 5.5, "UK": 10.0, "US": 20.0}

    # Lineage crosses the boundary both ways.
    upstream = _cli(project, "lineage", "upstream", "revenue_report", "--json")
    assert upstream.code == 0, upstream.stderr
    names = {e["asset"] for e in upstream.json()["entries"]}
    assert {"revenue_by_country", "orders_enriched", "stg_orders", "raw_orders",
            "customers"} <= names
    downstream = _cli(project, "lineage", "downstream", "raw_orders", "--json")
    assert {"stg_orders", "revenue_report"} <= {e["asset"] for e in downstream.json()["recorded"]}

    # Everything is up to date; editing one model's SQL makes it and its downstream stale.
    assert {action for action, _ in _plan(project).values()} == {"skip"}
    sql = project / "dbt_project" / "models" / "marts" / "orders_enriched.sql"
    sql.write_text(sql.read_text() + "where o.amount > 0\n")
    plan = _plan(project)
    assert plan["orders_enriched"] == ("run", "code changed")
    assert plan["revenue_by_country"] == ("run", "upstream stale")
    assert plan["revenue_report"] == ("run", "upstream stale")
    assert {plan[n][0] for n in ("raw_orders", "customers", "stg_orders", "stg_customers",
                                 "customer_count")} == {"skip"}
    status = _cli(project, "status", "--json")
    assert status.code == 0, status.stderr
    assert "code changed" in status.stdout

    again = _cli(project, "materialize", "*", "--json")
    assert again.code == 0, again.stdout + again.stderr
    builds = _dbt_builds(project, again.json()["run_id"])
    assert len(builds) == 1
    assert builds[0].split("--select ")[1].split(" --")[0].split() == [
        "orders_enriched", "revenue_by_country"]


def test_failing_dbt_test_skips_exactly_its_downstream(tmp_path: Path) -> None:
    project = _project(tmp_path)
    ran = _cli(project, "materialize", "*", "--json", env={"FIXTURE_BAD_ORDER": "1"})
    assert ran.code == 1, ran.stdout + ran.stderr
    outcome = {s["asset"]: s for s in ran.json()["steps"]}
    assert outcome["stg_orders"]["status"] == "failed"
    assert outcome["stg_orders"]["error_code"] == "dbt_test_failed"
    assert "unique_stg_orders_order_id" in outcome["stg_orders"]["reason"]
    skipped = {name for name, s in outcome.items() if s["status"] == "skipped"}
    assert skipped == {"orders_enriched", "revenue_by_country", "revenue_report"}
    succeeded = {name for name, s in outcome.items() if s["status"] == "succeeded"}
    assert succeeded == {"raw_orders", "customers", "stg_customers", "customer_count"}
    assert len(_dbt_builds(project, ran.json()["run_id"])) == 1


def test_a_timed_out_build_stops_dbt_and_the_next_run_succeeds(tmp_path: Path) -> None:
    project = _project(tmp_path)
    # The build's start hook counts a range that takes minutes: the 1s timeout kills the
    # worker (and dbt's threads) mid-build, however fast the machine is.
    ran = _cli(project, "materialize", "*", "--json",
               env={"FIXTURE_DBT_TIMEOUT": "1s", "FIXTURE_DBT_SLOW_ROWS": "500000000000"})
    assert ran.code == 1, ran.stdout + ran.stderr
    outcome = {s["asset"]: s["status"] for s in ran.json()["steps"]}
    # The roots of the build time out; the dbt models below them are skipped because of them.
    assert outcome["customers"] == outcome["stg_orders"] == "timed_out"
    assert {outcome[name] for name in DBT_ASSETS - {"customers", "stg_orders"}} == {"skipped"}
    assert outcome["revenue_report"] == "skipped" and outcome["customer_count"] == "skipped"
    assert outcome["raw_orders"] == "succeeded"
    # Nothing of the killed build is left holding the warehouse or the project's build lock.
    again = _cli(project, "materialize", "*", "--json")
    assert again.code == 0, again.stdout + again.stderr
    assert again.json()["counts"] == {"succeeded": 7, "up_to_date": 1}

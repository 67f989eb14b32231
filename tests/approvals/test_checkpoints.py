"""Checkpoints end to end: pause, approve (with a patch), reject, expire, escalate, races."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import duckdb

from tests.approvals.webhook_server import WebhookServer
from tests.cli_runner import copy_example, copy_fixture, flowstone_executable, run_cli


def pending_id(project: Path, env: dict[str, str] | None = None) -> str:
    listed = run_cli("-p", str(project), "checkpoints", "list", "--status", "pending", "--json",
                     env=env).json()
    assert len(listed) == 1, listed
    return listed[0]["request_id"]


def test_condition_holding_pauses_with_exit_3_while_independent_branch_completes(
        tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    result = run_cli("-p", str(project), "materialize", "*", "--json")
    assert result.code == 3, result.stdout + result.stderr
    summary = result.json()
    assert summary["status"] == "waiting_approval"
    statuses = {s["asset"]: s["status"] for s in summary["steps"]}
    assert statuses["independent"] == "succeeded" and statuses["draft"] == "succeeded"
    assert statuses["review"] == "waiting_approval"
    assert statuses["published"] == "skipped"
    request = pending_id(project)
    shown = run_cli("-p", str(project), "checkpoints", "show", request)
    assert "Quarterly numbers" in shown.stdout and f"flowstone approve {request}" in shown.stdout
    plain = run_cli("-p", str(project), "materialize", "*")
    assert plain.code == 3 and "flowstone approve" in plain.stdout + plain.stderr
    assert len(run_cli("-p", str(project), "checkpoints", "list", "--json").json()) == 1


def test_approve_runs_the_downstream_and_exits_0(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    run_cli("-p", str(project), "materialize", "*")
    request = pending_id(project)
    approved = run_cli("-p", str(project), "approve", request, "--by", "reviewer", "--reason",
                       "ok")
    assert approved.code == 0, approved.stdout + approved.stderr
    published = json.loads((project / "data" / "published.json").read_text())
    assert published["title"] == "Quarterly numbers" and published["published"] is True
    decided = run_cli("-p", str(project), "checkpoints", "show", request, "--json").json()
    assert (decided["status"], decided["decided_by"], decided["reason"]) == (
        "approved", "reviewer", "ok")
    again = run_cli("-p", str(project), "materialize", "*", "--json")
    assert again.code == 0
    assert {s["status"] for s in again.json()["steps"]} == {"up_to_date"}


def test_condition_false_passes_straight_through_and_is_recorded(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    result = run_cli("-p", str(project), "materialize", "*", "--json", env={"CONFIDENCE": "0.95"})
    assert result.code == 0, result.stdout + result.stderr
    assert (project / "data" / "published.json").exists()
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT status FROM checkpoints").fetchall()
    assert rows == [("passed",)]


def test_reject_records_downstream_as_skipped_with_the_reason(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    run_cli("-p", str(project), "materialize", "*")
    request = pending_id(project)
    rejected = run_cli("-p", str(project), "reject", request, "--reason", "numbers are wrong",
                       "--by", "auditor", "--json")
    assert rejected.code == 0, rejected.stdout + rejected.stderr
    run = rejected.json()[0]["resumed_run"]
    steps = {s["asset"]: (s["status"], s["reason"]) for s in run["steps"]}
    assert steps["published"][0] == "skipped"
    assert "rejected by auditor: numbers are wrong" in steps["review"][1] + steps["published"][1]
    assert not (project / "data" / "published.json").exists()
    twice = run_cli("-p", str(project), "approve", request)
    assert twice.code == 2 and "already decided" in twice.stderr


def test_patch_modifies_the_value_and_is_recorded_with_hashes(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    run_cli("-p", str(project), "materialize", "*")
    request = pending_id(project)
    patch = tmp_path / "fix.json"
    patch.write_text(json.dumps({"title": "Quarterly numbers (corrected)", "body": None}))
    approved = run_cli("-p", str(project), "approve", request, "--patch", str(patch),
                       "--reason", "fixed the title")
    assert approved.code == 0, approved.stdout + approved.stderr
    published = json.loads((project / "data" / "published.json").read_text())
    assert published["title"] == "Quarterly numbers (corrected)" and "body" not in published
    record = run_cli("-p", str(project), "checkpoints", "show", request, "--json").json()
    assert record["patch"] == {"title": "Quarterly numbers (corrected)", "body": None}
    assert record["before_hash"] and record["after_hash"] and \
        record["before_hash"] != record["after_hash"]


def test_unknown_id_and_bad_patch_are_clear_errors(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    run_cli("-p", str(project), "materialize", "*")
    unknown = run_cli("-p", str(project), "approve", "ffffffffffff")
    assert unknown.code == 2 and "no checkpoint request" in unknown.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    result = run_cli("-p", str(project), "approve", pending_id(project), "--patch", str(bad))
    assert result.code == 2 and "not valid JSON" in result.stderr


def test_timeout_is_decided_by_expire_according_to_on_timeout(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    env = {"REVIEW_TIMEOUT": "1s", "ON_TIMEOUT": "approve"}
    run_cli("-p", str(project), "materialize", "*", env=env)
    request = pending_id(project, env)
    time.sleep(1.5)
    expired = run_cli("-p", str(project), "checkpoints", "expire", "--json", env=env)
    assert expired.code == 0, expired.stdout + expired.stderr
    record = run_cli("-p", str(project), "checkpoints", "show", request, "--json",
                     env=env).json()
    assert (record["status"], record["outcome"], record["decided_by"]) == (
        "expired", "approved", "timeout")
    assert (project / "data" / "published.json").exists()
    late = run_cli("-p", str(project), "approve", request, env=env)
    assert late.code == 2 and "expired" in late.stderr


def test_escalation_sends_exactly_one_webhook(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    with WebhookServer() as server:
        env = {"ESCALATE_AFTER": "1s", "REVIEW_WEBHOOK": server.url}
        run_cli("-p", str(project), "materialize", "*", env=env)
        requested = [m for m in server.received if m["event"] == "checkpoint_requested"]
        assert len(requested) == 1
        time.sleep(1.5)
        assert run_cli("-p", str(project), "checkpoints", "expire", env=env).code == 0
        assert run_cli("-p", str(project), "checkpoints", "expire", env=env).code == 0
        escalated = [m for m in server.received if m["event"] == "checkpoint_escalated"]
        assert len(escalated) == 1
        assert escalated[0]["checkpoint"] == "review"


def test_failed_webhook_is_retried_on_the_next_tick(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    with WebhookServer() as server:
        env = {"REVIEW_WEBHOOK": server.url}
        server.status = 500
        result = run_cli("-p", str(project), "materialize", "*", env=env)
        assert result.code == 3
        assert server.received == []
        server.status = 200
        assert run_cli("-p", str(project), "tick", env=env).code == 0
        assert [m["event"] for m in server.received] == ["checkpoint_requested"]


def test_concurrent_approvals_exactly_one_wins(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    run_cli("-p", str(project), "materialize", "*")
    request = pending_id(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    procs = [subprocess.Popen([*flowstone_executable(), "-p", str(project), "approve", request,
                               "--by", f"person{i}", "--no-resume"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    outcomes = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 2], outcomes
    assert any("already decided" in err for _, err in outcomes)


def test_example_project_review_flow(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    low, fine = "2025-01-08", "2025-01-15"
    result = run_cli("-p", str(project), "materialize", "+published_report", "tenant_orders",
                     "--partition", low, "--json")
    assert result.code == 3, result.stdout + result.stderr
    statuses = {(s["asset"], s["partition"]): s["status"] for s in result.json()["steps"]}
    assert statuses[("report_review", low)] == "waiting_approval"
    assert statuses[("tenant_orders", f"tenant=acme,region=eu,date={low}")] == "succeeded"
    approved = run_cli("-p", str(project), "approve", f"report_review[{low}]", "--by",
                       "reviewer", "--reason", "ok")
    assert approved.code == 0, approved.stdout + approved.stderr
    assert (project / "data" / "published_report" / f"{low}.json").exists()
    passes = run_cli("-p", str(project), "materialize", "+published_report", "--partition",
                     fine)
    assert passes.code == 0


def test_runs_show_carries_the_approval_audit_trail(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    paused = run_cli("-p", str(project), "materialize", "*", "--json").json()
    request = pending_id(project)
    approved = run_cli("-p", str(project), "approve", request, "--by", "reviewer", "--reason",
                       "looks right", "--json")
    resumed_run = approved.json()[0]["resumed_run"]["run_id"]
    for run_id in (paused["run_id"], resumed_run):
        shown = run_cli("-p", str(project), "runs", "show", run_id, "--json").json()
        trail = [c for c in shown["checkpoints"] if c["request_id"] == request]
        assert trail and trail[0]["decided_by"] == "reviewer"
        assert trail[0]["reason"] == "looks right"
    text = run_cli("-p", str(project), "runs", "show", paused["run_id"]).stdout
    assert f"request {request} approved by reviewer (looks right)" in text


def test_lineage_and_report_show_the_modification(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    run_cli("-p", str(project), "materialize", "*")
    request = pending_id(project)
    patch = tmp_path / "fix.json"
    patch.write_text(json.dumps({"title": "Corrected"}))
    assert run_cli("-p", str(project), "approve", request, "--patch", str(patch), "--by",
                   "editor").code == 0
    lineage = run_cli("-p", str(project), "lineage", "upstream", "published", "--json").json()
    trail = [c for c in lineage["checkpoints"] if c["request_id"] == request]
    assert trail and trail[0]["patch"] == {"title": "Corrected"}
    assert trail[0]["before_hash"] != trail[0]["after_hash"]
    text = run_cli("-p", str(project), "lineage", "upstream", "published").stdout
    assert f"request {request} approved by editor" in text and "patched" in text
    report = run_cli("-p", str(project), "report", "*", "--format", "json").json()
    approvals = [a for a in report["approvals"] if a["request_id"] == request]
    assert approvals and approvals[0]["decided_by"] == "editor" and approvals[0]["patch"]
    html = run_cli("-p", str(project), "report", "*", "--format", "html").stdout
    assert "Approvals (1)" in html and "patched" in html

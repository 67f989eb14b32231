"""Asset checks end to end on the example project, through the real `flowstone` command."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import copy_example, run_cli

DAY = ("--partition", "2025-01-15")
STRICT = '["view", "click", "purchase"]'
LENIENT = '["view", "click", "purchase", "refund"]'


def _set_accepted(project: Path, old: str, new: str) -> None:
    module = project / "assets" / "quality.py"
    module.write_text(module.read_text().replace(old, new))


def _statuses(result: dict) -> dict[str, str]:
    return {s["asset"]: s["status"] for s in result["steps"]}


def test_a_failing_blocking_check_skips_the_downstream_until_fixed(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    p = ("-p", str(project))
    first = run_cli(*p, "materialize", "+daily_report", *DAY, "--json")
    assert first.code == 0, first.stderr
    _set_accepted(project, LENIENT, STRICT)

    failed = run_cli(*p, "materialize", "cleaned_events+", *DAY, "--force", "--json")
    assert failed.code == 1
    steps = {s["asset"]: s for s in failed.json()["steps"]}
    assert steps["cleaned_events"]["status"] == "failed"
    assert steps["cleaned_events"]["error_code"] == "check_failed"
    assert "accepted_values_event_type" in steps["cleaned_events"]["reason"]
    for downstream in ("daily_metrics", "daily_report", "report_review", "published_report"):
        assert steps[downstream]["status"] == "skipped"
        assert "failed blocking check accepted_values_event_type" in \
            steps[downstream]["reason"]

    # The value is stored and recorded (the store names the bytes on disk), its check failed.
    shown = run_cli(*p, "--json", "runs", "show", failed.json()["run_id"]).json()
    stored = [s for s in shown["steps"] if s["asset"] == "cleaned_events"][0]
    assert stored["status"] == "succeeded" and stored["data_version"]
    verdicts = {c["check"]: c for c in shown["checks"]}
    assert verdicts["accepted_values_event_type"]["passed"] is False
    assert verdicts["accepted_values_event_type"]["metadata"]["examples"] == ["refund"]
    assert verdicts["not_null_user_id"]["passed"] is True

    status = run_cli(*p, "--json", "status", "+daily_report", *DAY).json()
    reasons = {s["asset"]: s["reason"] for s in status["stale"]}
    assert reasons["cleaned_events"] == "failed blocking check accepted_values_event_type"
    assert reasons["daily_metrics"] == "upstream stale"

    # Selecting only the downstream does not read the value that failed its check.
    alone = run_cli(*p, "materialize", "daily_metrics", *DAY, "--force", "--json")
    assert _statuses(alone.json())["daily_metrics"] == "skipped"
    assert "failed blocking check" in alone.json()["steps"][0]["reason"]

    _set_accepted(project, STRICT, LENIENT)
    plan = run_cli(*p, "plan", "+daily_report", *DAY, "--json").json()
    actions = {s["asset"]: (s["action"], s["reason"]) for s in plan["steps"]}
    assert actions["cleaned_events"] == ("run", "failed blocking check "
                                                "accepted_values_event_type")
    again = run_cli(*p, "materialize", "+daily_report", *DAY, "--json")
    assert again.code == 0, again.stdout
    assert _statuses(again.json())["cleaned_events"] == "succeeded"
    assert _statuses(again.json())["daily_report"] == "succeeded"
    assert run_cli(*p, "--json", "status", "+daily_report", *DAY).json()["stale"] == []


def test_a_warning_never_blocks_and_check_assets_rechecks_stored_values(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    p = ("-p", str(project))
    module = project / "assets" / "quality.py"
    module.write_text(module.read_text().replace('{"DE", "FR", "US", "JP"}',
                                                 '{"DE", "FR", "US", "JP", "BR"}'))
    run = run_cli(*p, "materialize", "+daily_report", *DAY)
    assert run.code == 0, run.stdout + run.stderr
    assert "every_country_reported failed (warn): no revenue from BR" in run.stdout

    listed = {c["check"]: c for c in run_cli(*p, "--json", "checks", "list").json()}
    assert listed["daily_report.every_country_reported"]["failed"] == 1
    assert listed["cleaned_events.not_null_user_id"]["passed"] == 1
    assert listed["cleaned_events.not_null_user_id"]["blocking"] is True

    _set_accepted(project, LENIENT, STRICT)
    rechecked = run_cli(*p, "--json", "check-assets", "cleaned_events")
    assert rechecked.code == 1
    results = {r["check"]: r for r in rechecked.json()["results"]}
    assert results["accepted_values_event_type"]["passed"] is False
    assert results["accepted_values_event_type"]["run_id"] is None
    # Re-checking the stored value is enough to make it stale: nothing was recomputed.
    status = run_cli(*p, "--json", "status", "+daily_report", *DAY).json()
    assert {s["asset"] for s in status["stale"]} >= {"cleaned_events", "daily_report"}
    history = run_cli(*p, "--json", "checks", "show",
                      "cleaned_events.accepted_values_event_type").json()
    assert [r["passed"] for r in history["results"]][:2] == [False, True]
    missing = run_cli(*p, "--json", "check-assets", "cleaned_events", "--partition",
                      "2025-01-20")
    assert missing.json()["not_materialized"] == ["cleaned_events[2025-01-20]"]

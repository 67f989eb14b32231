"""State selections through the real command: they read the metadata store."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import copy_example, copy_fixture, run_cli

DAY = ("--partition", "2025-01-15")


def _names(result) -> list[str]:
    assert result.code == 0, result.stdout + result.stderr
    return [a["name"] for a in result.json()]


def test_modified_plus_rebuilds_what_an_edit_touched(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    p = ("-p", str(project))
    assert run_cli(*p, "materialize", "+daily_report", *DAY).code == 0
    never = set(_names(run_cli(*p, "--json", "list", "modified")))
    assert "daily_report" not in never and "tenant_orders" in never   # never materialized
    module = project / "assets" / "analytics.py"
    module.write_text(module.read_text().replace('f"kept {cleaned.num_rows} of',
                                                 'f"kept {cleaned.num_rows} rows of'))
    touched = _names(run_cli(*p, "--json", "list", "modified+,group:analytics"))
    assert touched == ["cleaned_events", "daily_metrics", "daily_report"]
    listed = run_cli(*p, "--json", "list", "modified+,group:analytics").json()
    assert listed[1]["included"] == "downstream of cleaned_events"
    run = run_cli(*p, "materialize", "modified+,group:analytics", *DAY, "--json")
    assert run.code == 0, run.stderr
    ran = {s["asset"]: s["status"] for s in run.json()["steps"]}
    assert ran == {"cleaned_events": "succeeded", "daily_metrics": "succeeded",
                   "daily_report": "succeeded"}
    assert "cleaned_events" not in _names(run_cli(*p, "--json", "list", "modified"))


def test_status_selectors_and_an_intersection_with_a_glob(tmp_path: Path) -> None:
    project = copy_fixture("failing", tmp_path)
    p = ("-p", str(project))
    assert run_cli(*p, "materialize", "source", "broken", "independent").code == 1
    assert _names(run_cli(*p, "--json", "list", "status:failed")) == ["broken"]
    assert "further" in _names(run_cli(*p, "--json", "list", "status:never"))
    assert _names(run_cli(*p, "--json", "list", "status:stale")) == [
        "broken", "flaky", "after_broken", "further"]
    assert _names(run_cli(*p, "--json", "list", "status:stale,*n*")) == ["broken",
                                                                         "after_broken"]
    assert _names(run_cli(*p, "--json", "list", "status:failed+")) == ["broken", "after_broken"]
    nothing = run_cli(*p, "materialize", "status:failed,independent")
    assert nothing.code == 0 and "nothing to do" in nothing.stderr
    bad = run_cli(*p, "list", "status:flaky")
    assert bad.code == 2 and "unknown status `flaky`" in bad.stderr


def test_check_rejects_a_malformed_selection_in_a_schedule(tmp_path: Path) -> None:
    project = copy_fixture("minimal", tmp_path)
    (project / "assets" / "schedules.py").write_text(
        'from flowstone_cli import schedule\n\n'
        'ok = schedule(name="ok", cron="0 2 * * *", target="status:stale+")\n'
        'broken = schedule(name="broken", cron="0 2 * * *", target="tag:x,,y")\n')
    checked = run_cli("-p", str(project), "check")
    assert checked.code == 2
    assert "schedule `broken`" in checked.stdout + checked.stderr
    assert "schedule `ok`" not in checked.stdout + checked.stderr

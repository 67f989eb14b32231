"""Messages that say what is really wrong, through the real `flowstone` command."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import copy_example, run_cli


def _project(tmp_path: Path) -> str:
    return str(copy_example(tmp_path))


def test_a_key_before_the_first_partition_says_so(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = run_cli("-p", project, "plan", "daily_report", "--partition", "2024-12-31")
    assert result.code == 2
    assert "2024-12-31 is before the first partition (2025-01-01)" in result.stderr
    ranged = run_cli("-p", project, "materialize", "daily_report",
                     "--partitions", "2024-12-30..2025-01-02")
    assert ranged.code == 2
    assert "2024-12-30 is before the first partition (2025-01-01)" in ranged.stderr
    # A multi-partitioned asset's date dimension says the same.
    multi = run_cli("-p", project, "plan", "tenant_orders", "--partition", "2024-12-31")
    assert multi.code == 2
    assert "2024-12-31 is before the first partition (2025-01-01)" in multi.stderr


def test_a_hostile_key_keeps_its_own_message(tmp_path: Path) -> None:
    result = run_cli("-p", _project(tmp_path), "plan", "daily_report", "--partition", "../etc")
    assert result.code == 2
    assert "'../etc' is not valid: expected YYYY-MM-DD" in result.stderr
    assert "before the first partition" not in result.stderr
    assert "Traceback" not in result.stderr


def test_partition_on_an_unpartitioned_asset_is_an_error(tmp_path: Path) -> None:
    project = _project(tmp_path)
    for command in ("plan", "materialize"):
        result = run_cli("-p", project, command, "user_profiles", "--partition", "2025-01-05")
        assert result.code == 2, (command, result.stdout, result.stderr)
        assert "`user_profiles` is not partitioned; `2025-01-05` does not apply" in result.stderr
    # Nothing ran.
    listed = run_cli("-p", project, "--json", "runs", "list")
    assert listed.code == 0 and listed.json() == []
    # With a partitioned asset in the selection, the unpartitioned upstream runs as before.
    plan = run_cli("-p", project, "plan", "+daily_report", "--partition", "2025-01-05")
    assert plan.code == 0 and "user_profiles" in plan.stdout


def test_cancel_of_a_finished_run_does_not_suggest_resume(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = run_cli("-p", project, "--json", "materialize", "user_profiles", "--executor",
                   "inline")
    assert done.code == 0, done.stderr
    run_id = done.json()["run_id"]
    result = run_cli("-p", project, "runs", "cancel", run_id)
    assert result.code == 2
    assert f"run {run_id} is not running (it is succeeded)" in result.stderr
    assert "finished every step" in result.stderr
    assert "runs resume" not in result.stderr


def test_an_unpicklable_value_is_blamed_on_its_type_not_the_storage(tmp_path: Path) -> None:
    project = tmp_path / "unpicklable"
    (project / "assets").mkdir(parents=True)
    (project / "flowstone.toml").write_text('[project]\nname = "unpicklable"\n')
    (project / "assets" / "locks.py").write_text(
        "import threading\n\nfrom flowstone_cli import asset\n\n\n"
        "@asset(io_manager=\"pickle\")\ndef guarded():\n"
        "    return {\"lock\": threading.Lock()}\n")
    result = run_cli("-p", str(project), "materialize", "guarded", "--executor", "inline")
    assert result.code == 1, (result.stdout, result.stderr)
    assert "the value cannot be pickled" in result.stderr
    assert "lock" in result.stderr
    assert "reachable" not in result.stderr


def test_a_downstream_of_a_rejected_checkpoint_names_who_rejected_it_and_why(
        tmp_path: Path) -> None:
    from tests.cli_runner import copy_fixture

    project = str(copy_fixture("approvals", tmp_path))
    run_cli("-p", project, "materialize", "*")
    request = run_cli("-p", project, "checkpoints", "list", "--status", "pending",
                      "--json").json()[0]["request_id"]
    waiting = run_cli("-p", project, "materialize", "published")
    assert f"review is waiting for approval: flowstone approve {request}" in waiting.stdout
    assert "never been materialized" not in waiting.stdout + waiting.stderr

    run_cli("-p", project, "reject", request, "--by", "auditor", "--reason",
            "numbers are wrong")
    alone = run_cli("-p", project, "materialize", "published", "--json")
    steps = {s["asset"]: s for s in alone.json()["steps"]}
    assert steps["published"]["status"] == "skipped"
    assert steps["published"]["reason"] == "review was rejected by auditor: numbers are wrong"
    planned = run_cli("-p", project, "plan", "published")
    assert "review was rejected by auditor: numbers are wrong" in planned.stdout
    stale = {s["asset"]: s["reason"] for s in
             run_cli("-p", project, "status", "--json").json()["stale"]}
    assert stale["review"] == "rejected by auditor: numbers are wrong"

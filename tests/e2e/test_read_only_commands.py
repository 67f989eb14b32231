"""The read-only CLI, driven as a user would: the real `flowstone` command in a subprocess."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import REPO, copy_example, copy_fixture, run_cli


def test_help_and_version_work() -> None:
    assert run_cli("--help").code == 0
    result = run_cli("--version")
    assert result.code == 0
    assert result.stdout.startswith("flowstone ")


def test_check_on_example_project_reports_asset_count(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    result = run_cli("-p", str(project), "check")
    assert result.code == 0, result.stderr
    assert "9 assets" in result.stdout


def test_check_reports_all_four_problems_with_locations(tmp_path: Path) -> None:
    project = copy_fixture("broken", tmp_path)
    result = run_cli("-p", str(project), "check")
    assert result.code == 2
    err = result.stderr
    assert "unknown key `storge`" in err and "flowstone.toml:4" in err
    assert "Did you mean `storage`?" in err
    assert "dependency cycle: a -> b -> c -> a" in err
    assert "asset `orphan` is defined 2 times" in err
    assert "first.py:19" in err and "second.py:4" in err
    assert "parameter `missing_input` of asset `orphan` is neither `context` nor an asset" in err
    assert "Traceback" not in err


def test_check_json_lists_problems(tmp_path: Path) -> None:
    project = copy_fixture("broken", tmp_path)
    result = run_cli("-p", str(project), "check", "--json")
    assert result.code == 2
    codes = sorted(p["code"] for p in result.json()["problems"])
    assert codes == ["config_unknown_key", "cycle", "duplicate_name", "unknown_parameter"]


def test_list_json_gives_one_object_per_asset(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    result = run_cli("-p", str(project), "list", "--json")
    assert result.code == 0, result.stderr
    assets = result.json()
    assert sorted(a["name"] for a in assets) == sorted(
        ["raw_events", "user_profiles", "cleaned_events", "daily_metrics", "daily_report",
         "tenant_orders", "monthly_revenue", "report_review", "published_report"])
    first = next(a for a in assets if a["name"] == "cleaned_events")
    assert set(first) >= {"name", "group", "tags", "deps", "io_manager", "partitions",
                          "description", "location"}
    assert first["location"].startswith("assets/analytics.py:")


def test_plan_lists_upstream_before_selected(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    result = run_cli("plan", "+daily_report", "--partition", "2025-01-15", "--json", cwd=project)
    assert result.code == 0, result.stderr
    order = [s["asset"] for s in result.json()["steps"]]
    assert {s["partition"] for s in result.json()["steps"]} == {"2025-01-15", None}
    assert order.index("raw_events") < order.index("cleaned_events") < order.index(
        "daily_metrics") < order.index("daily_report")
    reasons = {s["asset"]: s["included_because"] for s in result.json()["steps"]}
    assert reasons["daily_report"] == "selected"
    assert reasons["raw_events"] == "upstream of daily_report"


def test_unknown_selection_is_an_error_with_suggestion(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    result = run_cli("-p", str(project), "plan", "daily_reprt")
    assert result.code == 2
    assert "did you mean `daily_report`" in result.stderr


def test_project_found_from_env_and_parent_folder(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    by_env = run_cli("list", "--json", cwd=tmp_path, env={"FLOWSTONE_PROJECT": str(project)})
    assert by_env.code == 0, by_env.stderr
    by_parent = run_cli("list", "--json", cwd=project / "assets")
    assert by_parent.code == 0, by_parent.stderr


def test_missing_project_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("list", cwd=tmp_path)
    assert result.code == 2
    assert "no flowstone.toml" in result.stderr
    assert "flowstone init" in result.stderr


def test_graph_formats(tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    mermaid = run_cli("-p", str(project), "graph", "--format", "mermaid")
    assert mermaid.code == 0 and "raw_events --> cleaned_events" in mermaid.stdout
    dot = run_cli("-p", str(project), "graph", "--format", "dot")
    assert dot.code == 0 and '"daily_metrics" -> "daily_report";' in dot.stdout
    bad = run_cli("-p", str(project), "graph", "--format", "png")
    assert bad.code == 2 and "unknown graph format" in bad.stderr


def test_init_creates_a_project_that_passes_check(tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    created = run_cli("init", str(target))
    assert created.code == 0, created.stderr
    checked = run_cli("-p", str(target), "check")
    assert checked.code == 0, checked.stderr
    again = run_cli("init", str(target))
    assert again.code == 2 and "not empty" in again.stderr


def test_python_dash_m_runs_the_cli() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "flowstone_cli", "--version"],
                          capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0 and "flowstone" in proc.stdout


def test_usage_errors_exit_2_with_a_message_not_a_traceback() -> None:
    for args in (["materialize", "--bogus"], ["show", "asset", "extra-arg"], ["nosuchcommand"]):
        result = run_cli(*args)
        assert result.code == 2, (args, result.stderr)
        assert "Error:" in result.stderr and "Traceback" not in result.stderr
        assert "internal error" not in result.stderr


def test_ctrl_c_while_the_cli_starts_exits_130_without_a_traceback() -> None:
    import subprocess
    import sys

    code = ("import flowstone_cli.cli.main as cli\n"
            "def interrupted(argv=None):\n    raise KeyboardInterrupt\n"
            "cli.main = interrupted\n"
            "from flowstone_cli.cli.entry import run\nrun()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 130
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr

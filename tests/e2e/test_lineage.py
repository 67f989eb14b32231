"""Lineage, staleness, reports, `sql` and `wipe` end to end: the real `flowstone` command on a
copy of example_project after a two-week backfill (2025-01-08 .. 2025-01-21)."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import jsonschema
import pytest

from flowstone_cli.io.duckdb_manager import PARTITION_COLUMN
from tests.cli_runner import REPO, copy_example, run_cli

DAY = "2025-01-15"
DAYS = [f"2025-01-{d:02d}" for d in range(8, 22)]
CHAIN = ("cleaned_events", "daily_metrics", "daily_report")


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """example_project with `+daily_report` backfilled over two weeks (shared, read-only)."""
    project = copy_example(tmp_path_factory.mktemp("lineage"))
    result = run_cli("-p", str(project), "backfill", "+daily_report", "--from", DAYS[0],
                     "--to", DAYS[-1], "--json")
    assert result.code == 0, result.stdout + result.stderr
    return project


@pytest.fixture
def project(backfilled: Path, tmp_path: Path) -> Path:
    """A private copy of the backfilled project, for tests that change it."""
    return Path(shutil.copytree(backfilled, tmp_path / "example_project"))


def cli(project: Path, *args: str) -> dict:
    result = run_cli("-p", str(project), *args, "--json")
    assert result.code == 0, result.stdout + result.stderr
    return result.json()


def query(project: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(project / "data" / "flowstone.duckdb"), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def latest_step(project: Path, asset: str, partition: str | None) -> str:
    rows = query(project, "SELECT step_id FROM steps WHERE asset = ? AND \"partition\" "
                 "IS NOT DISTINCT FROM ? AND status = 'succeeded' AND NOT wiped "
                 "ORDER BY ended_at DESC LIMIT 1", [asset, partition])
    return rows[0][0]


def test_upstream_gives_the_exact_materializations_read_with_depth(backfilled: Path) -> None:
    answer = cli(backfilled, "lineage", "upstream", "daily_report", "--partition", DAY)
    assert answer["recorded"] is True
    assert answer["materialization"]["step_id"] == latest_step(backfilled, "daily_report", DAY)
    got = {(e["asset"], e["partition"]): (e["depth"], e["step_id"]) for e in answer["entries"]}
    assert got == {
        ("daily_metrics", DAY): (1, latest_step(backfilled, "daily_metrics", DAY)),
        ("cleaned_events", DAY): (2, latest_step(backfilled, "cleaned_events", DAY)),
        ("raw_events", DAY): (3, latest_step(backfilled, "raw_events", DAY)),
        ("user_profiles", None): (3, latest_step(backfilled, "user_profiles", None)),
    }
    runs = {e["run_id"] for e in answer["entries"]}
    assert len(runs) == 1 and all(e["time"] and e["recorded"] for e in answer["entries"])
    shallow = cli(backfilled, "lineage", "upstream", "daily_report", "--partition", DAY,
                  "--depth", "1")
    assert [(e["asset"], e["depth"]) for e in shallow["entries"]] == [("daily_metrics", 1)]


def test_upstream_of_a_partition_never_materialized_comes_from_the_definitions(
        backfilled: Path) -> None:
    answer = cli(backfilled, "lineage", "upstream", "daily_report", "--partition", "2025-02-01")
    assert answer["recorded"] is False and answer["materialization"] is None
    got = {(e["asset"], e["partition"], e["depth"], e["recorded"]) for e in answer["entries"]}
    assert got == {("daily_metrics", "2025-02-01", 1, False),
                   ("cleaned_events", "2025-02-01", 2, False),
                   ("raw_events", "2025-02-01", 3, False), ("user_profiles", None, 3, False)}
    profiles = next(e for e in answer["entries"] if e["asset"] == "user_profiles")
    assert profiles["step_id"] == latest_step(backfilled, "user_profiles", None)


def test_impact_lists_exactly_the_downstream_partitions_that_consumed_it(
        backfilled: Path) -> None:
    answer = cli(backfilled, "lineage", "impact", "raw_events", "--partition", DAY)
    got = [(e["asset"], e["partition"], e["depth"], e["recorded"]) for e in answer["impacted"]]
    assert got == [("cleaned_events", DAY, 1, True), ("daily_metrics", DAY, 2, True),
                   ("daily_report", DAY, 3, True)]
    assert answer["counts"] == {"cleaned_events": 1, "daily_metrics": 1, "daily_report": 1}
    assert answer["total"] == 3
    # Assets downstream of the backfilled ones were never materialized: already stale.
    assert not set(answer["not_materialized"]) & set(CHAIN)
    # The same set, read straight from the lineage table: every consumer, transitively.
    consumers = query(backfilled, """
        WITH RECURSIVE down(step_id) AS (
            SELECT step_id FROM lineage WHERE upstream_step_id = ?
            UNION SELECT l.step_id FROM lineage l JOIN down ON l.upstream_step_id = down.step_id)
        SELECT s.asset, s."partition" FROM down JOIN steps s USING (step_id) ORDER BY 1""",
        [latest_step(backfilled, "raw_events", DAY)])
    assert consumers == [(a, DAY) for a in CHAIN]


def test_impact_of_an_unpartitioned_source_counts_every_partition(backfilled: Path) -> None:
    answer = cli(backfilled, "lineage", "impact", "user_profiles")
    assert answer["counts"] == {asset: len(DAYS) for asset in CHAIN}
    assert all(e["recorded"] for e in answer["impacted"])
    assert set(CHAIN) <= set(answer["not_materialized"])


def test_downstream_lists_recorded_consumers_and_the_expected_ones(backfilled: Path) -> None:
    answer = cli(backfilled, "lineage", "downstream", "cleaned_events", "--partition", DAY)
    recorded = [(e["asset"], e["partition"], e["depth"]) for e in answer["recorded"]]
    assert recorded == [("daily_metrics", DAY, 1), ("daily_report", DAY, 2)]
    expected = [(e["asset"], e["partition"], e["recorded"], e["current"])
                for e in answer["expected"] if e["asset"] in CHAIN]
    assert expected == [("daily_metrics", DAY, False, True), ("daily_report", DAY, False, True)]


def test_code_change_makes_it_and_its_downstream_stale_and_materialize_runs_only_those(
        project: Path) -> None:
    assert cli(project, "status")["stale"] == []
    module = project / "assets" / "analytics.py"
    module.write_text(module.read_text().replace(
        'context.log.info(f"kept {cleaned.num_rows} of {raw_events.num_rows} events")',
        'context.log.info(f"kept {cleaned.num_rows} events of {raw_events.num_rows}")'))
    report = cli(project, "status", "+daily_report", "--partitions", f"{DAYS[0]}..{DAYS[-1]}")
    reasons = {(s["asset"], s["partition"]): s["reason"] for s in report["stale"]}
    assert reasons == {**{("cleaned_events", d): "code changed" for d in DAYS},
                       **{(a, d): "upstream stale" for a in CHAIN[1:] for d in DAYS}}
    assert report["checked"] == 4 * len(DAYS) + 1
    plan = cli(project, "plan", "+daily_report", "--partitions", f"{DAYS[0]}..{DAYS[-1]}")
    assert {(s["asset"], s["partition"]): s["reason"] for s in plan["steps"]
            if s["action"] == "run"} == reasons  # status and plan agree step for step
    run = cli(project, "materialize", "+daily_report", "--partitions",
              f"{DAYS[0]}..{DAYS[-1]}")
    ran = {(s["asset"], s["partition"]) for s in run["steps"] if s["status"] == "succeeded"}
    assert ran == set(reasons)
    assert {s["status"] for s in run["steps"] if (s["asset"], s["partition"]) not in ran} == {
        "up_to_date"}
    assert cli(project, "status")["stale"] == []


def test_rematerializing_an_upstream_to_identical_data_leaves_downstream_up_to_date(
        project: Path) -> None:
    before = latest_step(project, "raw_events", DAY)
    run = cli(project, "materialize", "raw_events", "--partition", DAY, "--force")
    assert [s["status"] for s in run["steps"]] == ["succeeded"]
    assert latest_step(project, "raw_events", DAY) != before
    assert cli(project, "status", "+daily_report", "--partition", DAY)["stale"] == []
    again = cli(project, "materialize", "+daily_report", "--partition", DAY)
    assert {s["status"] for s in again["steps"]} == {"up_to_date"}
    # The consumers read the older, identical materialization; lineage says so.
    upstream = cli(project, "lineage", "upstream", "cleaned_events", "--partition", DAY)
    raw = next(e for e in upstream["entries"] if e["asset"] == "raw_events")
    assert (raw["step_id"], raw["current"]) == (before, False)


def test_status_text_and_exit_code_when_steps_are_stale(backfilled: Path) -> None:
    result = run_cli("-p", str(backfilled), "status", "+daily_report", "--partition",
                     "2025-01-30")
    assert result.code == 0, result.stderr
    assert "daily_report[2025-01-30]\tmissing" in result.stdout
    assert "5 of 5 steps stale" not in result.stdout  # user_profiles is up to date
    assert "4 of 5 steps stale (missing: 4)" in result.stdout


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.nodes: dict[str, str] = {}
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if tag == "g" and found.get("data-asset"):
            self.nodes[found["data-asset"] or ""] = found.get("data-status") or ""
        for name in ("src", "href"):
            if found.get(name):
                self.external.append(found[name] or "")


def test_html_report_is_one_self_contained_page_with_graph_and_tables(backfilled: Path,
                                                                     tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = run_cli("-p", str(backfilled), "report", "--format", "html", "--output",
                     str(target))
    assert result.code == 0, result.stderr
    page = _Page()
    page.feed(target.read_text(encoding="utf-8"))
    page.close()
    assert page.tags[:1] == ["html"] and "svg" in page.tags and "style" in page.tags
    # assets, runs, checks (the example's asset checks ran) and history; no approvals here
    assert page.tags.count("table") == 4 and "script" not in page.tags
    assert page.external == []  # nothing is fetched from anywhere
    assert page.nodes["daily_report"] == "materialized"
    assert page.nodes["monthly_revenue"] == "never materialized"
    assets = cli(backfilled, "list")
    assert set(page.nodes) == {a["name"] for a in assets}


def test_json_report_validates_against_the_documented_schema(backfilled: Path) -> None:
    schema = json.loads((REPO / "docs" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    report = cli(backfilled, "report", "+daily_report", "--format", "json", "--since",
                 "2020-01-01")
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()
                                    ).validate(report)
    run = report["runs"][0]
    assert run["trigger"] == "backfill" and run["actor"] and run["host"]
    assert run["command"].startswith("flowstone ") and run["flowstone_version"]
    steps = [s for s in report["history"] if s["asset"] == "daily_report"]
    assert len(steps) == len(DAYS) and all(s["code_version"] for s in steps)
    assert [i["asset"] for i in steps[0]["inputs"]] == ["daily_metrics"]


def test_markdown_and_csv_reports_carry_the_audit_trail(backfilled: Path) -> None:
    markdown = run_cli("-p", str(backfilled), "report", "daily_report")
    assert markdown.code == 0 and "## Runs: audit trail (1)" in markdown.stdout
    assert "| backfill |" in markdown.stdout
    table = run_cli("-p", str(backfilled), "report", "daily_report", "--format", "csv")
    header, *rows = table.stdout.splitlines()
    assert header.startswith("ended_at,asset,partition,step_id") and len(rows) == len(DAYS)
    assert "run_actor" in header and "daily_metrics[" in rows[0]
    future = cli(backfilled, "report", "--since", "2999-01-01", "--format", "json")
    assert future["history"] == [] and future["runs"] == []


def test_sql_answers_read_queries(backfilled: Path) -> None:
    answer = cli(backfilled, "sql", "SELECT asset, count(*) AS n FROM steps "
                 "WHERE status = 'succeeded' GROUP BY asset ORDER BY asset")
    assert answer["columns"] == ["asset", "n"]
    assert dict(answer["rows"])["daily_report"] == len(DAYS)
    times = cli(backfilled, "sql", "SELECT started_at FROM runs")
    assert times["rows"][0][0].endswith("+00:00")


@pytest.mark.parametrize(("statement", "message"), [
    ("SELECT * FROM read_csv('/etc/passwd')", "cannot read files"),
    ("SELECT * FROM read_text('/etc/hostname')", "cannot read files"),
    ("DELETE FROM steps", "only runs read queries"),
    ("ATTACH '/tmp/other.duckdb' AS other", "only runs read queries"),
    ("SELECT 1; DROP TABLE steps", "exactly one statement"),
    ("SET enable_external_access = true", "only runs read queries"),
])
def test_sql_refuses_writes_and_file_access(backfilled: Path, statement: str,
                                            message: str) -> None:
    result = run_cli("-p", str(backfilled), "sql", statement)
    assert result.code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert query(backfilled, "SELECT count(*) FROM steps")[0][0] > 0


def test_wipe_deletes_data_marks_rows_keeps_lineage_and_status_reports_missing(
        project: Path) -> None:
    stored = project / "data" / "raw_events" / f"{DAY}.parquet"
    step = latest_step(project, "raw_events", DAY)
    assert stored.exists()
    refused = run_cli("-p", str(project), "wipe", "raw_events", "--partition", DAY)
    assert refused.code == 2 and "--yes" in refused.stderr and stored.exists()
    wiped = cli(project, "wipe", "raw_events", "--partition", DAY, "--yes")
    assert wiped["materializations_marked"] == 1 and not stored.exists()
    assert query(project, "SELECT wiped FROM steps WHERE step_id = ?", [step]) == [(True,)]
    assert query(project, "SELECT count(*) FROM lineage WHERE upstream_step_id = ?",
                 [step])[0][0] == 1
    stale = cli(project, "status", "+daily_report", "--partition", DAY)["stale"]
    assert {(s["asset"], s["reason"]) for s in stale} == {
        ("raw_events", "missing"), *((a, "upstream stale") for a in CHAIN)}
    upstream = cli(project, "lineage", "upstream", "cleaned_events", "--partition", DAY)
    raw = next(e for e in upstream["entries"] if e["asset"] == "raw_events")
    assert (raw["step_id"], raw["wiped"]) == (step, True)
    other_day = project / "data" / "raw_events" / f"{DAYS[0]}.parquet"
    assert other_day.exists()


def test_wipe_of_a_warehouse_table_partition(project: Path) -> None:
    wiped = cli(project, "wipe", "daily_metrics", "--partition", DAY, "--yes")
    assert wiped["deleted"] == [next(iter(wiped["deleted"]))]
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as conn:
        days = {r[0] for r in conn.execute(
            f"SELECT DISTINCT {PARTITION_COLUMN} FROM daily_metrics").fetchall()}
    assert DAY not in days and DAYS[0] in days


def test_lineage_commands_explain_bad_input(backfilled: Path) -> None:
    missing = run_cli("-p", str(backfilled), "lineage", "upstream", "daily_report")
    assert missing.code == 2 and "--partition" in missing.stderr
    unknown = run_cli("-p", str(backfilled), "lineage", "impact", "daily_reprot")
    assert unknown.code == 2 and "daily_report" in unknown.stderr
    bad = run_cli("-p", str(backfilled), "lineage", "upstream", "daily_report",
                  "--partition", "15-01-2025")
    assert bad.code == 2 and "Traceback" not in bad.stderr


def test_commands_work_before_anything_was_recorded(tmp_path: Path) -> None:
    fresh = copy_example(tmp_path)
    assert cli(fresh, "lineage", "upstream", "daily_report", "--partition", DAY)[
        "recorded"] is False
    assert cli(fresh, "lineage", "impact", "raw_events", "--partition", DAY)["total"] == 0
    assert cli(fresh, "status")["not_checked"]
    assert cli(fresh, "report", "--format", "json")["history"] == []
    assert cli(fresh, "wipe", "raw_events", "--yes")["partitions"] == []
    assert not (fresh / "data" / "flowstone.duckdb").exists()

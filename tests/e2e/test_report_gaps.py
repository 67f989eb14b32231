"""Reports show gaps: partition counts and a strip per partitioned asset, and what became of a
run that waited for approval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import copy_example, run_cli


def test_the_report_shows_missing_partitions_and_the_final_state_of_approved_runs(
        tmp_path: Path) -> None:
    project = copy_example(tmp_path)
    p = ("-p", str(project))
    assert run_cli(*p, "backfill", "+daily_report", "--from", "2025-01-01", "--to",
                   "2025-01-03").code == 0
    assert run_cli(*p, "materialize", "+daily_report", "--partition", "2025-01-05").code == 0
    waiting = run_cli(*p, "materialize", "+published_report", "--partition", "2025-01-08")
    assert waiting.code == 3, waiting.stdout + waiting.stderr
    approved = run_cli(*p, "approve", "report_review[2025-01-08]", "--by", "ann", "--reason",
                       "fine")
    assert approved.code == 0, approved.stdout + approved.stderr

    markdown = run_cli(*p, "report", "--format", "md")
    assert markdown.code == 0, markdown.stderr
    text = markdown.stdout
    assert "## Partitions (8 partitioned assets)" in text
    daily = text.split("- **daily_report**: ", 1)[1].splitlines()
    assert daily[0].startswith("5 materialized, 0 failed, ")
    assert daily[1].strip() == "`2025-01-01 ███·█··█ 2025-01-08`"
    assert "waiting_approval → approved by ann (resumed by " in text

    report = json.loads(run_cli(*p, "report", "--format", "json").stdout)
    counts = {a["name"]: a["partition_counts"] for a in report["assets"]}
    assert counts["user_profiles"] is None
    assert counts["daily_report"]["materialized"] == 5
    assert counts["daily_report"]["failed"] == 0
    assert counts["daily_report"]["missing"] > 600          # every day since, up to today

    html = run_cli(*p, "report", "--format", "html").stdout
    assert html.count('<span class="materialized" title="2025-01-0') >= 5
    assert '<span class="missing" title="2025-01-04: missing">' in html

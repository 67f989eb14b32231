"""Report rendering: the SVG graph's layout, Markdown escaping, CSV columns."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

from flowstone_cli.metadata.lineage_queries import AssetSummary
from flowstone_cli.metadata.records import LineageRecord, RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.reporting.html import render_html
from flowstone_cli.reporting.model import AssetRow, AssetStatus, Report
from flowstone_cli.reporting.svg import render_svg
from flowstone_cli.reporting.tables import CSV_COLUMNS, render_csv, render_markdown
from tests.lineage.conftest import step

NOW = datetime(2025, 2, 1, tzinfo=timezone.utc)


def row(name: str, *upstream: str, ok: int = 1, failed: int = 0, wiped: int = 0,
        partitions: str | None = "daily") -> AssetRow:
    return AssetRow(name, "g", partitions, "cv", upstream, AssetSummary(ok, failed, wiped))


def boxes(svg: str) -> dict[str, tuple[float, float, str]]:
    found = {}
    for match in re.finditer(r'data-asset="([^"]+)" data-status="([^"]+)">.*?<rect x="([\d.]+)" '
                             r'y="([\d.]+)"', svg):
        found[match.group(1)] = (float(match.group(3)), float(match.group(4)), match.group(2))
    return found


def test_status_of_an_asset_comes_from_its_partitions() -> None:
    assert row("a", failed=1).status is AssetStatus.FAILED
    assert row("a").status is AssetStatus.MATERIALIZED
    assert row("a", ok=0, wiped=2).status is AssetStatus.WIPED
    assert row("a", ok=0).status is AssetStatus.NEVER


def test_svg_puts_each_asset_right_of_its_deepest_upstream() -> None:
    assets = [row("source"), row("side"), row("middle", "source"),
              row("sink", "middle", "side", failed=1)]
    placed = boxes(render_svg(assets))
    assert placed["source"][0] == placed["side"][0] < placed["middle"][0] < placed["sink"][0]
    assert placed["sink"][2] == "failed" and placed["source"][2] == "materialized"
    assert render_svg(assets).count('class="edge"') == 3


def test_svg_escapes_and_shortens_names() -> None:
    svg = render_svg([row("a" * 60)])
    assert f'>{"a" * 31}…</text>' in svg  # the full name stays in the tooltip
    assert f"<title>{'a' * 60}: materialized</title>" in svg
    assert render_svg([]).startswith("<svg")


def _report() -> Report:
    first = step("s1", "raw", "2025-01-01", minute=1)
    second = step("s2", "clean", "2025-01-01", minute=2)
    run = RunRecord("run-1", RunStatus.SUCCEEDED, trigger="cli", command="flowstone x | y",
                    actor="ana", host="box", pid=7, flowstone_version="0.1.0",
                    started_at=NOW, ended_at=NOW)
    inputs = {"s2": (LineageRecord("s2", "s1", "raw", "2025-01-01", "d-s1"),)}
    return Report("demo", NOW, "0.1.0", 5, ("*",), None, (row("raw"), row("clean", "raw")),
                  (first, second), inputs, (run,))


def test_markdown_escapes_pipes_and_lists_inputs() -> None:
    text = render_markdown(_report())
    assert "flowstone x \\| y" in text
    assert "raw[2025-01-01]@s1" in text and "## Runs: audit trail (1)" in text


def test_csv_has_one_row_per_attempt_with_the_run_audit_fields() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(_report()))))
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["step_id"] for r in rows] == ["s1", "s2"]
    assert rows[1]["inputs"] == "raw[2025-01-01]@s1"
    assert (rows[1]["run_actor"], rows[1]["run_host"], rows[1]["run_trigger"]) == (
        "ana", "box", "cli")


def test_html_escapes_what_it_shows() -> None:
    page = render_html(_report())
    assert "flowstone x | y" in page and "<script" not in page
    evil = Report("<b>x</b>", NOW, "0.1.0", 5, ("*",), None, (), (), {}, ())
    assert "<b>x</b>" not in render_html(evil) and "&lt;b&gt;x&lt;/b&gt;" in render_html(evil)

"""The report as one self-contained HTML file: inline CSS, an inline SVG graph, plain tables.

Nothing is loaded from elsewhere (no script, stylesheet, font or image URL), so the file opens
the same from an e-mail attachment, an air-gapped machine or a CI artifact.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from flowstone_cli.reporting.model import Report
from flowstone_cli.reporting.svg import render_svg
from flowstone_cli.reporting.tables import (
    Table,
    approvals_table,
    checks_table,
    asset_table,
    history_table,
    partition_lines,
    run_table,
    strip_window,
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
       color: #212121; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85rem; margin-top: 0.5rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f5f5f5; }
tr:nth-child(even) td { background: #fafafa; }
td.status-failed { color: #c62828; font-weight: 600; }
td.status-materialized, td.status-succeeded { color: #2e7d32; }
.graph { overflow-x: auto; border: 1px solid #eee; padding: 0.5rem; }
code { font-family: ui-monospace, monospace; }
.strip { display: flex; flex-wrap: wrap; gap: 1px; margin: 0.2rem 0 0.8rem; }
.strip span { width: 7px; height: 12px; background: #e0e0e0; }
.strip span.materialized { background: #43a047; }
.strip span.failed { background: #e53935; }
"""


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _table(table: Table, *, css: str, status_column: str | None = None) -> str:
    headers, rows = table
    if not rows:
        return "<p>(none)</p>"
    index = headers.index(status_column) if status_column in headers else -1
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            klass = f' class="status-{escape(cell.split()[0])}"' if i == index and cell else ""
            cells.append(f"<td{klass}>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>'
            + "\n".join(body) + "</tbody></table>")


def _partitions(report: Report) -> str:
    """Per partitioned asset, its counts and a strip of its latest partitions (gaps show)."""
    strips = [a for a in report.assets if a.strip is not None]
    if not strips:
        return ""
    parts = [f"<h2>Partitions ({len(strips)} partitioned assets)</h2>"]
    for (name, counts, _), asset in zip(partition_lines(report), strips):
        cells = "".join(f'<span class="{state}" title="{escape(key)}: {state}"></span>'
                        for key, state in strip_window(asset.strip))
        parts.append(f"<p><code>{escape(name)}</code>: {escape(counts)}</p>"
                     f'<div class="strip">{cells}</div>')
    return "\n".join(parts)


def render_html(report: Report) -> str:
    """The report as one standalone HTML document."""
    since = f" · since {escape(_time(report.since))} UTC" if report.since else ""
    title = f"FlowStone report: {report.project}"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Generated {escape(_time(report.generated_at))} UTC by FlowStone '
        f"{escape(report.flowstone_version)} (metadata schema {report.schema_version}) · "
        f"selection <code>{escape(' '.join(report.selection))}</code>{since}</p>",
        "<h2>Asset graph</h2>", f'<div class="graph">{render_svg(report.assets)}</div>',
        f"<h2>Assets ({len(report.assets)})</h2>",
        _table(asset_table(report), css="assets", status_column="status"),
        _partitions(report),
        f"<h2>Runs: audit trail ({len(report.runs)})</h2>",
        _table(run_table(report), css="runs", status_column="status"),
        f"<h2>Approvals ({len(report.approvals)})</h2>",
        _table(approvals_table(report), css="approvals", status_column="status"),
        f"<h2>Checks ({len(report.checks)})</h2>",
        _table(checks_table(report), css="checks", status_column="status"),
        f"<h2>History ({len(report.history)} attempts)</h2>",
        _table(history_table(report), css="history", status_column="status"),
        "</body>", "</html>", ""])

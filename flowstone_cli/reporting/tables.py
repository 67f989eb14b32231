"""The report as tables of text, and its Markdown and CSV forms.

The same three tables (assets, runs, history) make up the Markdown and HTML reports; the CSV
form is one flat table, one row per attempt, with the run's audit fields on every row so that
a spreadsheet filter needs no join.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flowstone_cli.reporting.model import Report

Table = tuple[list[str], list[list[str]]]


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _key(asset: str, partition: str | None) -> str:
    return asset if partition is None else f"{asset}[{partition}]"


def asset_table(report: Report) -> Table:
    """One row per selected asset with its status and partition counts."""
    rows = [[a.name, a.group, a.partitions or "-", a.status.value,
             str(a.summary.materialized), str(a.summary.failed), str(a.summary.wiped),
             _time(a.summary.last_materialized_at), a.code_version] for a in report.assets]
    return (["asset", "group", "partitions", "status", "materialized", "failed", "wiped",
             "last materialized (UTC)", "code version"], rows)


STRIP_CELLS = 120  # the most recent partitions drawn in a strip
_STRIP_CHARS = {"materialized": "█", "failed": "×", "missing": "·"}


def strip_window(strip: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The partitions a strip draws: from the first to the last one ever attempted (the last
    `STRIP_CELLS` of them), so the gaps between materialized partitions show; never-attempted
    assets show their latest partitions."""
    tried = [i for i, (_, state) in enumerate(strip) if state != "missing"]
    if not tried:
        return strip[-STRIP_CELLS:]
    end = tried[-1] + 1
    return strip[max(tried[0], end - STRIP_CELLS):end]


def partition_lines(report: Report) -> list[tuple[str, str, str]]:
    """Per partitioned asset: (asset, counts text, strip of its latest partitions as text:
    █ materialized, × failed, · missing)."""
    lines = []
    for asset in report.assets:
        if asset.strip is None:
            continue
        counts = asset.partition_counts or {}
        text = (f"{counts['materialized']} materialized, {counts['failed']} failed, "
                f"{counts['missing']} missing")
        shown = strip_window(asset.strip)
        strip = "".join(_STRIP_CHARS[state] for _, state in shown)
        if shown:
            strip = f"{shown[0][0]} {strip} {shown[-1][0]}"
        lines.append((asset.name, text, strip))
    return lines


def final_state(report: Report, run_id: str, status: str) -> str:
    """A run's status, with what became of it when it waited for approval: `waiting_approval
    → approved by NAME (resumed by RUN)` or `→ rejected by NAME`."""
    if status != "waiting_approval":
        return status
    decided = [a for a in report.approvals if a.run_id == run_id and a.decided_by]
    if not decided:
        return status
    last = decided[-1]
    resumed = f" (resumed by {last.resumed_run_id})" if last.resumed_run_id else ""
    return f"{status} → {last.status.value} by {last.decided_by}{resumed}"


def run_table(report: Report) -> Table:
    """The audit trail: one row per run, who started it, where, with which command."""
    rows = [[r.run_id, final_state(report, r.run_id, r.status.value), _text(r.trigger),
             _text(r.actor),
             f"{_text(r.host)} (pid {_text(r.pid)})", _text(r.command),
             _text(r.flowstone_version), _time(r.started_at), _time(r.ended_at)]
            for r in report.runs]
    return (["run", "status", "trigger", "by", "host", "command", "flowstone", "started (UTC)",
             "ended (UTC)"], rows)


def checks_table(report: Report) -> Table:
    """Asset check results: which value, passed or failed, how bad, why."""
    rows = [[c.full_name, _text(c.partition), "passed" if c.passed else "failed",
             c.severity + (" (blocking)" if c.blocking else ""), _text(c.message),
             _time(c.executed_at), _text(c.run_id)] for c in report.checks]
    return (["check", "partition", "status", "severity", "message", "when (UTC)", "run"], rows)


def approvals_table(report: Report) -> Table:
    """Checkpoint requests and decisions: who decided, when, why, and what changed."""
    rows = [[a.request_id, a.checkpoint + (f"[{a.partition}]" if a.partition else ""),
             a.status.value, _time(a.requested_at), _text(a.decided_by),
             _time(a.decided_at), _text(a.reason),
             (f"patched: {_text(a.before_hash)[:12]} -> {_text(a.after_hash)[:12]}"
              if a.patch else ""), _text(a.run_id), _text(a.resumed_run_id)]
            for a in report.approvals]
    return (["request", "checkpoint", "status", "requested (UTC)", "decided by",
             "decided (UTC)", "reason", "modification", "run", "resumed by run"], rows)


def history_table(report: Report) -> Table:
    """One row per attempt: when, what, outcome, versions and the inputs it read."""
    rows = []
    for step in report.history:
        inputs = ", ".join(f"{_key(r.upstream_asset, r.upstream_partition)}@"
                           f"{r.upstream_step_id}" for r in report.inputs.get(step.step_id, ()))
        outcome = step.status.value + (" (wiped)" if step.wiped else "")
        rows.append([_time(step.ended_at), _key(step.asset, step.partition), step.step_id,
                     str(step.attempt), outcome, _text(step.code_version),
                     _text(step.data_version)[:12], _text(step.rows), step.run_id,
                     inputs or _text(step.error_message)])
    return (["ended (UTC)", "step", "materialization", "attempt", "status", "code version",
             "data version", "rows", "run", "inputs / error"], rows)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def _md_table(table: Table) -> list[str]:
    headers, rows = table
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines if rows else ["(none)"]


def _md_partitions(report: Report) -> list[str]:
    lines = partition_lines(report)
    if not lines:
        return []
    out = [f"## Partitions ({len(lines)} partitioned assets)", "",
           f"From the first to the last partition attempted (at most {STRIP_CELLS}): "
           "█ materialized, × failed, · missing.", ""]
    for name, counts, strip in lines:
        out += [f"- **{name}**: {counts}", f"  `{strip}`" if strip else ""]
    return [*out, ""]


def render_markdown(report: Report) -> str:
    """The report as a Markdown document."""
    since = f" · since {_time(report.since)} UTC" if report.since else ""
    lines = [f"# FlowStone report: {report.project}", "",
             f"Generated {_time(report.generated_at)} UTC by FlowStone "
             f"{report.flowstone_version} (metadata schema {report.schema_version}) · "
             f"selection `{' '.join(report.selection)}`{since}", "",
             f"## Assets ({len(report.assets)})", "", *_md_table(asset_table(report)), "",
             *_md_partitions(report),
             f"## Runs: audit trail ({len(report.runs)})", "", *_md_table(run_table(report)), "",
             f"## Approvals ({len(report.approvals)})", "",
             *_md_table(approvals_table(report)), "",
             f"## Checks ({len(report.checks)})", "", *_md_table(checks_table(report)), "",
             f"## History ({len(report.history)} attempts)", "",
             *_md_table(history_table(report)), ""]
    return "\n".join(lines)


CSV_COLUMNS = ["ended_at", "asset", "partition", "step_id", "attempt", "status", "wiped",
               "code_version", "data_version", "rows", "size_bytes", "duration_ms", "uri",
               "error_message", "inputs", "run_id", "run_trigger", "run_actor", "run_host",
               "run_command", "flowstone_version"]


def render_csv(report: Report) -> str:
    """The history as CSV (`CSV_COLUMNS`), one row per attempt, with its run's audit fields.

    `inputs` lists what the attempt read as `asset[partition]@materialization`, `;`-separated.
    """
    runs = {r.run_id: r for r in report.runs}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for step in report.history:
        run = runs.get(step.run_id)
        inputs = ";".join(f"{_key(r.upstream_asset, r.upstream_partition)}@{r.upstream_step_id}"
                          for r in report.inputs.get(step.step_id, ()))
        writer.writerow([
            step.ended_at.isoformat() if step.ended_at else "", step.asset,
            _text(step.partition), step.step_id, step.attempt, step.status.value,
            str(step.wiped).lower(), _text(step.code_version), _text(step.data_version),
            _text(step.rows), _text(step.size_bytes), _text(step.duration_ms), _text(step.uri),
            _text(step.error_message), inputs, step.run_id,
            _text(run.trigger if run else None), _text(run.actor if run else None),
            _text(run.host if run else None), _text(run.command if run else None),
            _text(run.flowstone_version if run else None)])
    return out.getvalue()

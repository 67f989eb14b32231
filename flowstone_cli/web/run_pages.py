"""The runs list (with filters) and the run page: steps, timeline, errors, logs, approvals."""

from __future__ import annotations

from flowstone_cli.api.dashboard import runs_of_asset
from flowstone_cli.api.runs import list_runs, run_logs, show_run
from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.project.loader import Project
from flowstone_cli.web.html import Html, duration, esc, link, status_badge, table, tag, url, when

TIMELINE_W = 640
BAR_H = 14


def _filters(status: str | None, asset: str | None, tenant: str | None) -> Html:
    options = "".join(
        f'<option value="{s.value}"{" selected" if s.value == status else ""}>{s.value}</option>'
        for s in RunStatus)
    return Html(
        '<form class="filters" method="get" action="/runs">'
        f'<label>status <select name="status"><option value="">any</option>{options}'
        '</select></label> '
        f'<label>asset <input name="asset" value="{esc(asset)}"></label> '
        f'<label>tenant <input name="tenant" value="{esc(tenant)}"></label> '
        '<button type="submit">Filter</button></form>')


def runs_main(project: Project, *, status: str | None, asset: str | None,
              tenant: str | None, limit: int = 50) -> Html:
    """The `<main>` of the runs list."""
    if asset:
        runs = runs_of_asset(project, asset, limit=limit, status=status)
        if tenant:
            keep = {r.run_id for r in list_runs(project, limit=limit * 20, status=status,
                                                  tenant=tenant)}
            runs = [r for r in runs if r.run_id in keep]
    else:
        runs = list_runs(project, limit=limit, status=status, tenant=tenant)
    rows = [(link(url("/runs", r.run_id), r.run_id), status_badge(r.status.value),
             r.trigger or "-", r.actor or "-", r.selection or "-", when(r.started_at),
             duration(r.started_at, r.ended_at)) for r in runs]
    return Html("<h1>Runs</h1>" + _filters(status, asset, tenant) + table(
        ["run", "status", "trigger", "actor", "selection", "started (UTC)", "duration"], rows,
        empty="No run matches."))


def _timeline(steps: list[StepRecord]) -> Html:
    timed = [s for s in steps if s.started_at is not None]
    if not timed:
        return Html("")
    start = min(s.started_at for s in timed)
    end = max((s.ended_at or s.started_at) for s in timed)
    span = max((end - start).total_seconds(), 0.001)
    label_w = 230
    height = len(timed) * (BAR_H + 6) + 24
    parts = [f'<svg class="timeline" viewBox="0 0 {label_w + TIMELINE_W + 10} {height}" '
             f'width="{label_w + TIMELINE_W + 10}" height="{height}">']
    for index, step in enumerate(sorted(timed, key=lambda s: (s.started_at, s.asset))):
        y = 4 + index * (BAR_H + 6)
        x0 = label_w + (step.started_at - start).total_seconds() / span * TIMELINE_W
        x1 = label_w + ((step.ended_at or end) - start).total_seconds() / span * TIMELINE_W
        name = step.asset + (f"[{step.partition}]" if step.partition else "")
        parts.append(
            f'<g class="s-{esc(step.status.value)}"><title>{esc(name)}: '
            f'{esc(step.status.value)}, {esc(duration(step.started_at, step.ended_at))}</title>'
            f'<text x="0" y="{y + 11}">{esc(name[:34])}</text>'
            f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 2):.1f}" height="{BAR_H}"/></g>')
    parts.append(f'<text x="{label_w}" y="{height - 4}" class="axis">0 s</text>'
                 f'<text x="{label_w + TIMELINE_W - 40}" y="{height - 4}" class="axis">'
                 f'{span:.1f} s</text></svg>')
    return Html("<h2>Timeline</h2><p class=\"muted\">Each bar is one step attempt; a step "
                "starts once the steps it reads have ended.</p>" + "".join(parts))


def run_main(project: Project, run_id: str) -> Html:
    """The `<main>` of a run page."""
    details = show_run(project, run_id)
    run = details.run
    _, events = run_logs(project, run.run_id)
    head = table(["", ""], [
        ("status", Html(f'<span id="run-status" class="badge s-{esc(run.status.value)}" '
                        f'data-status="{esc(run.status.value)}">{esc(run.status.value)}</span>')),
        ("trigger", run.trigger or "-"), ("actor", run.actor or "-"),
        ("selection", run.selection or "-"), ("command", run.command or "-"),
        ("host / pid", f"{run.host or '-'} / {run.pid or '-'}"),
        ("started (UTC)", when(run.started_at)), ("ended (UTC)", when(run.ended_at)),
        ("duration", duration(run.started_at, run.ended_at)),
        ("backfill", link(url("/backfills", run.backfill_id), run.backfill_id)
         if run.backfill_id else "-"),
        ("parent run", link(url("/runs", run.parent_run_id), run.parent_run_id)
         if run.parent_run_id else "-")], class_="kv")
    steps = [(link(url("/assets", s.asset, partition=s.partition), s.asset),
              s.partition or "-", s.attempt, status_badge(s.status.value), s.reason or "",
              duration(s.started_at, s.ended_at), "-" if s.rows is None else s.rows)
             for s in details.steps]
    errors = [Html(f'<div class="err"><strong>{esc(s.asset)}'
                   f'{esc(f"[{s.partition}]" if s.partition else "")} attempt {s.attempt}: '
                   f'{esc(s.error_code or s.status.value)}</strong>'
                   f'<p>{esc(s.error_message)}</p>'
                   + (f'<details><summary>traceback</summary><pre>{esc(s.traceback)}</pre>'
                      '</details>' if s.traceback else "") + '</div>')
              for s in details.steps if s.error_message or s.traceback]
    logs = [(when(e.ts), e.level.value, e.asset or "-", e.partition or "-", e.message or e.kind)
            for e in events]
    audit = [(link(url("/approvals", c.request_id), c.request_id), c.checkpoint,
              c.partition or "-", status_badge(c.status.value), c.decided_by or "-",
              c.reason or "", link(url("/runs", c.resumed_run_id), c.resumed_run_id)
              if c.resumed_run_id else "-") for c in details.checkpoints]
    return Html(
        tag("h1", f"Run {run.run_id}") + head
        + "<h2>Steps</h2>" + table(["asset", "partition", "attempt", "status", "reason",
                                    "duration", "rows"], steps, empty="No step recorded yet.")
        + _timeline(details.steps)
        + ("<h2>Errors</h2>" + "".join(errors) if errors else "")
        + "<h2>Logs</h2>" + table(["time (UTC)", "level", "asset", "partition", "message"],
                                  logs, empty="No log lines.")
        + "<h2>Checkpoint audit trail</h2>" + table(
            ["request", "checkpoint", "partition", "status", "decided by", "reason",
             "resumed run"], audit, empty="No approvals in this run."))

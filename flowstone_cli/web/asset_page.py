"""The asset page: details, partition grid, latest materializations, staleness, lineage and the
launch form."""

from __future__ import annotations

from collections.abc import Sequence

from flowstone_cli.api import lineage as lineage_api
from flowstone_cli.api.asset_checks import current_verdicts
from flowstone_cli.api.dashboard import asset_history
from flowstone_cli.api.partitions import partition_status
from flowstone_cli.api.project import show_asset
from flowstone_cli.api.status import status
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.lineage.entries import LineageEntry
from flowstone_cli.project.loader import Project
from flowstone_cli.web.html import Html, duration, esc, link, pre, status_badge, table, tag, url, \
    when

MAX_CELLS = 2_000


def _details(data: dict) -> Html:
    rows = [("kind", data["kind"]), ("group", data["group"] or "-"),
            ("description", data["description"] or "-"),
            ("tags", ", ".join(f"{k}={v}" for k, v in data["tags"].items()) or "-"),
            ("code version", data["code_version"] or "-"), ("I/O manager", data["io_manager"]),
            ("partitions", data["partitions"] or "not partitioned"),
            ("defined in", data["location"])]
    ups = Html(", ".join(link(url("/assets", u), u) for u in data["deps"])) or "-"
    downs = Html(", ".join(link(url("/assets", d), d) for d in data["downstream"])) or "-"
    rows += [("upstream", ups), ("downstream", downs)]
    return table(["", ""], rows, class_="kv")


def partition_grid(project: Project, asset: str) -> Html:
    """Every partition as a coloured cell; date keys laid out one row per month."""
    found = partition_status(project, asset)
    cells = {**{k: "missing" for k in found.missing},
             **{k: "succeeded" for k in found.materialized},
             **{k: "failed" for k in found.failed}}
    keys = sorted(cells)[-MAX_CELLS:]
    rows: dict[str, list[str]] = {}
    for key in keys:
        dated = len(key) >= 10 and key[4] == "-" and key[7] == "-" and key[:4].isdigit()
        rows.setdefault(key[:7] if dated else "", []).append(key)
    body = []
    for label, members in rows.items():
        spans = "".join(
            f'<a class="cell s-{cells[k]}" title="{esc(k)}: {cells[k]}" '
            f'href="{esc(url("/assets", asset, partition=k))}"></a>' for k in members)
        body.append(f'<div class="row"><span class="rowlabel">{esc(label)}</span>{spans}</div>')
    counts = (f"{len(found.materialized)} materialized · {len(found.failed)} failed · "
              f"{len(found.missing)} missing")
    more = f" (latest {MAX_CELLS} shown)" if len(cells) > MAX_CELLS else ""
    return Html(f'<h2>Partitions</h2><p class="muted">{esc(counts + more)}</p>'
                f'<div class="pgrid">{"".join(body)}</div>')


def _history(project: Project, asset: str) -> Html:
    steps = asset_history(project, asset, limit=15)
    rows = [(s.partition or "-", status_badge(s.status.value), when(s.ended_at),
             duration(s.started_at, s.ended_at),
             "-" if s.rows is None else s.rows, "-" if s.size_bytes is None else s.size_bytes,
             (s.data_version or "-")[:12], link(url("/runs", s.run_id), s.run_id),
             pre(s.metadata) if s.metadata else (s.error_message or ""))
            for s in steps]
    return Html("<h2>Latest attempts</h2>" + table(
        ["partition", "status", "ended (UTC)", "duration", "rows", "bytes", "data version",
         "run", "metadata / error"], rows, empty="Never attempted."))


def _checks(project: Project, asset: str) -> Html:
    checks = project.definitions.checks_of(asset)
    if not checks:
        return Html("")
    verdicts = current_verdicts(project, [asset])
    rows = [(c.full_name, c.partition or "-",
             status_badge("succeeded" if c.passed else "failed"),
             c.severity + (" · blocking" if c.blocking else ""), c.message or "",
             when(c.executed_at)) for c in verdicts]
    declared = ", ".join(c.name for c in checks)
    return Html(f'<h2>Checks</h2><p class="muted">{esc(declared)}</p>' + table(
        ["check", "partition", "result", "severity", "message", "checked (UTC)"], rows[:300],
        empty="Not run on the current values yet."))


def _staleness(project: Project, asset: str) -> Html:
    report = status(project, [asset])
    rows = [(s.partition or "-", s.reason, when(s.materialized_at)) for s in report.stale]
    note = (tag("p", f"{report.checked} step(s) checked; every one is up to date.",
                class_="muted") if not rows else Html(""))
    return Html("<h2>Staleness</h2>" + (table(["partition", "reason", "materialized (UTC)"],
                                               rows[:200]) if rows else note))


def _entries(entries: Sequence[LineageEntry]) -> Html:
    rows = [(link(url("/assets", e.key.asset, partition=e.key.partition), e.key.asset),
             e.key.partition or "-", e.depth, "recorded" if e.recorded else "expected",
             when(e.materialization.time) if e.materialization else "never")
            for e in entries]
    return table(["asset", "partition", "depth", "source", "materialized (UTC)"], rows[:300],
                 empty="None.")


def _lineage(project: Project, asset: str, partition: str | None) -> Html:
    try:
        up = lineage_api.upstream(project, asset, partition)
        down = lineage_api.downstream(project, asset, partition)
        hit = lineage_api.impact(project, asset, partition)
    except FlowStoneError as exc:
        return Html(f'<h2>Lineage</h2><p class="error">{esc(exc.message)}</p>'
                    f'<p class="muted">{esc(exc.hint or "")}</p>')
    label = f"{asset}[{partition}]" if partition else asset
    return Html(f'<h2>Lineage of {esc(label)}</h2><h3>Upstream</h3>{_entries(up.entries)}'
                f'<h3>Downstream</h3>{_entries((*down.recorded, *down.expected))}'
                f'<h3>Impact if it changed now</h3>{_entries(hit.impacted)}')


def _launch_form(asset: str, partitioned: bool, token: str | None) -> Html:
    part = ('<label>partition <input name="partition" placeholder="2025-01-15"></label> '
            '<label>or range <input name="range" placeholder="2025-01-01..2025-01-07">'
            '</label> ') if partitioned else ""
    return Html(f'<h2>Launch</h2><form class="launch act" method="post" action="/launch">'
                f'<input type="hidden" name="token" value="{esc(token)}">'
                f'<label>selection <input name="selection" value="{esc(asset)}" required>'
                f'</label> {part}<button type="submit">Materialize</button></form>')


def asset_main(project: Project, asset: str, partition: str | None, *, token: str | None,
               read_only: bool) -> Html:
    """The `<main>` of an asset page."""
    data = show_asset(project, asset)
    partitioned = data["partitions"] is not None
    parts = [tag("h1", asset), _details(data)]
    if not read_only:
        parts.append(_launch_form(asset, partitioned, token))
    if partitioned:
        parts.append(partition_grid(project, asset))
    parts += [_staleness(project, asset), _checks(project, asset), _history(project, asset)]
    if partitioned and not partition:
        parts.append(Html('<h2>Lineage</h2><p class="muted">Pick a partition in the grid to '
                          'see its lineage.</p>'))
    else:
        parts.append(_lineage(project, asset, partition))
    return Html("".join(parts))

"""The backfills list and one backfill's partition × asset grid with its progress."""

from __future__ import annotations

from flowstone_cli.api.backfill import list_backfills, show_backfill
from flowstone_cli.project.loader import Project
from flowstone_cli.web.html import Html, esc, link, status_badge, table, tag, url, when

DONE = {"succeeded", "up_to_date", "skipped", "failed", "canceled", "timed_out", "abandoned"}


def backfills_main(project: Project) -> Html:
    """The `<main>` of the backfills list."""
    rows = [(link(url("/backfills", b.backfill_id), b.backfill_id),
             status_badge(b.status.value), b.selection, _range(b.partitions),
             b.actor or "-", when(b.created_at), when(b.ended_at))
            for b in list_backfills(project, limit=100)]
    return Html("<h1>Backfills</h1>" + table(
        ["backfill", "status", "selection", "partitions", "actor", "created (UTC)",
         "ended (UTC)"], rows, empty="No backfill yet."))


def _range(partitions: dict) -> str:
    if "from" in partitions:
        return f"{partitions['from']} .. {partitions['to']}"
    if "keys" in partitions:
        keys = partitions["keys"]
        return ", ".join(keys[:5]) + (f" (+{len(keys) - 5})" if len(keys) > 5 else "")
    return "all"


def backfill_main(project: Project, backfill_id: str) -> Html:
    """The `<main>` of one backfill."""
    grid = show_backfill(project, backfill_id)
    record = grid.backfill
    counts = grid.counts()
    total = max(len(grid.cells), 1)
    done = sum(n for status, n in counts.items() if status in DONE)
    percent = round(100 * done / total)
    head = "".join(f"<th>{esc(a)}</th>" for a in grid.assets)
    body = []
    for partition in grid.partitions:
        cells = "".join(
            f'<td class="cell s-{esc(grid.cells.get((a, partition), "none"))}" '
            f'title="{esc(a)}[{esc(partition)}]: {esc(grid.cells.get((a, partition), "-"))}">'
            '</td>' for a in grid.assets)
        body.append(f"<tr><th>{esc(partition or '-')}</th>{cells}</tr>")
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return Html(
        tag("h1", f"Backfill {record.backfill_id}")
        + table(["", ""], [("status", status_badge(record.status.value)),
                           ("selection", record.selection),
                           ("partitions", _range(record.partitions)),
                           ("actor", record.actor or "-"),
                           ("created (UTC)", when(record.created_at))], class_="kv")
        + f'<h2>Progress</h2><progress max="100" value="{percent}"></progress> '
        + tag("span", f"{percent}% · {summary}")
        + f'<table class="bgrid"><thead><tr><th>partition</th>{head}</tr></thead>'
        + f'<tbody>{"".join(body)}</tbody></table>')

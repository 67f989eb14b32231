"""The approvals queue: pending requests with their preview and the approve / reject forms, and
the decided ones with their audit trail."""

from __future__ import annotations

from flowstone_cli.api.approvals import get_request, list_requests
from flowstone_cli.metadata.checkpoints import CheckpointRequest, RequestStatus
from flowstone_cli.project.loader import Project
from flowstone_cli.review.preview import render
from flowstone_cli.web.html import Html, esc, link, status_badge, table, tag, url, when


def _forms(request: CheckpointRequest, token: str | None) -> Html:
    action = esc(url("/approvals", request.request_id))
    hidden = f'<input type="hidden" name="token" value="{esc(token)}">'
    return Html(
        f'<form class="decide act" method="post" action="{action}">{hidden}'
        '<input type="hidden" name="decision" value="approve">'
        '<label>reason <input name="reason" class="reason"></label>'
        '<label>JSON merge patch (optional) <textarea name="patch" rows="2" '
        'placeholder=\'{"title": "Fixed"}\'></textarea></label>'
        '<button type="submit" class="approve">Approve</button></form>'
        f'<form class="decide act" method="post" action="{action}">{hidden}'
        '<input type="hidden" name="decision" value="reject">'
        '<label>reason (required) <input name="reason" class="reason" required></label>'
        '<button type="submit" class="reject">Reject</button></form>')


def _card(request: CheckpointRequest, token: str | None, read_only: bool) -> Html:
    rows = [("checkpoint", link(url("/assets", request.checkpoint), request.checkpoint)),
            ("partition", request.partition or "-"),
            ("value of", request.upstream_asset), ("value hash", request.value_hash or "-"),
            ("run", link(url("/runs", request.run_id), request.run_id)),
            ("requested (UTC)", when(request.requested_at)),
            ("times out (UTC)", when(request.timeout_at)),
            ("escalates (UTC)", when(request.escalate_at)),
            ("escalated (UTC)", when(request.escalated_at))]
    preview = tag("pre", render(request.summary or {}), class_="preview")
    forms = _forms(request, token) if not read_only else Html("")
    return Html(f'<section class="card" id="r-{esc(request.request_id)}" '
                f'data-request="{esc(request.request_id)}">'
                + tag("h3", f"{request.checkpoint}"
                            f"{f'[{request.partition}]' if request.partition else ''}")
                + table(["", ""], rows, class_="kv") + "<h4>Preview</h4>" + preview + forms
                + "</section>")


def approvals_main(project: Project, *, token: str | None, read_only: bool,
                   focus: str | None = None) -> Html:
    """The `<main>` of the approvals page (one request when `focus` is given)."""
    if focus:
        request = get_request(project, focus)
        requests = [request]
    else:
        requests = list_requests(project)
    pending = [r for r in requests if r.status is RequestStatus.PENDING]
    decided = [r for r in requests if r.status is not RequestStatus.PENDING]
    cards = "".join(_card(r, token, read_only) for r in pending)
    audit = [(link(url("/approvals", r.request_id), r.request_id), r.checkpoint,
              r.partition or "-", status_badge(r.status.value), r.outcome or "-",
              r.decided_by or "-", when(r.decided_at), r.reason or "",
              "yes" if r.patch else "-",
              link(url("/runs", r.resumed_run_id), r.resumed_run_id)
              if r.resumed_run_id else "-") for r in decided]
    return Html(
        "<h1>Approvals</h1>"
        + tag("p", f"{len(pending)} pending", class_="muted", id="pending-count")
        + (cards or tag("p", "No request is waiting.", class_="empty"))
        + "<h2>Decided</h2>"
        + table(["request", "checkpoint", "partition", "status", "outcome", "decided by",
                 "decided (UTC)", "reason", "patched", "resumed run"], audit,
                empty="No decision yet."))

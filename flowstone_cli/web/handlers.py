"""The dashboard's routes: which page or action each URL is, and what it asks `api` for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from flowstone_cli.api.dashboard import decide_detached, launch_materialize
from flowstone_cli.errors import UsageError
from flowstone_cli.web.approval_pages import approvals_main
from flowstone_cli.web.asset_page import asset_main
from flowstone_cli.web.backfill_pages import backfill_main, backfills_main
from flowstone_cli.web.graph_page import build_layout, graph_main
from flowstone_cli.web.html import Html, link, url
from flowstone_cli.web.run_pages import run_main, runs_main

if TYPE_CHECKING:
    from flowstone_cli.web.app import UiConfig


def _param(request: Request, name: str) -> str | None:
    return request.query_params.get(name) or None


def routes(config: UiConfig, view: Callable[..., Any], action: Callable[..., Any]) -> list[Route]:
    """Every page and action route."""
    project = config.project
    token = None if config.read_only else config.token
    placed = build_layout(project)

    def graph(request: Request) -> Html:
        state = request.app.state.watcher.state
        if state is None:
            from flowstone_cli.api.dashboard import dashboard_state
            state = dashboard_state(project)
        return graph_main(project, placed, state)

    def asset(request: Request) -> Html:
        return asset_main(project, request.path_params["name"], _param(request, "partition"),
                          token=token, read_only=config.read_only)

    def runs(request: Request) -> Html:
        return runs_main(project, status=_param(request, "status"),
                         asset=_param(request, "asset"), tenant=_param(request, "tenant"))

    def run(request: Request) -> Html:
        return run_main(project, request.path_params["run_id"])

    def approvals(request: Request) -> Html:
        return approvals_main(project, token=token, read_only=config.read_only,
                              focus=request.path_params.get("request_id"))

    def decide(request: Request, form: dict[str, str]) -> dict[str, Any]:
        choice = form.get("decision")
        if choice not in ("approve", "reject"):
            raise UsageError("decision must be approve or reject", hint="Use the buttons.")
        reason = (form.get("reason") or "").strip() or None
        if choice == "reject" and not reason:
            raise UsageError("a rejection needs a reason", hint="Say why in the reason field.")
        patch = (form.get("patch") or "").strip() or None
        decision, run_id = decide_detached(project, request.path_params["request_id"],
                                           approve=choice == "approve", reason=reason,
                                           patch_text=patch,
                                           by=form.get("by") or None)
        done = decision.request
        return {"message": f"{done.status.value}: {done.checkpoint}"
                           f"{f'[{done.partition}]' if done.partition else ''}"
                           f" by {done.decided_by}; the held work runs as {run_id}",
                "request_id": done.request_id, "status": done.status.value, "run_id": run_id}

    def launch(request: Request, form: dict[str, str]) -> dict[str, Any]:
        selection = (form.get("selection") or "").split()
        if not selection:
            raise UsageError("nothing selected", hint="Name an asset or a selection.")
        partitions = [k.strip() for k in (form.get("partition") or "").split(",") if k.strip()]
        run_id = launch_materialize(project, selection, partitions=partitions,
                                    partition_range=(form.get("range") or "").strip() or None)
        return {"message": f"launched run {run_id}", "run_id": run_id,
                "url": url("/runs", run_id)}

    def after_launch(request: Request) -> Html:
        return Html(f"<h1>Launch</h1><p>{link('/runs', 'See the runs')}</p>")

    def title(text: str) -> Callable[[Request], str]:
        return lambda request: text

    def named(key: str) -> Callable[[Request], str]:
        return lambda request: str(request.path_params[key])

    return [
        Route("/", view(title("Asset graph"), "/", graph)),
        Route("/assets/{name}", view(named("name"), "/", asset)),
        Route("/runs", view(title("Runs"), "/runs", runs)),
        Route("/runs/{run_id}", view(named("run_id"), "/runs", run)),
        Route("/backfills", view(title("Backfills"), "/backfills",
                                 lambda request: backfills_main(project))),
        Route("/backfills/{backfill_id}", view(
            named("backfill_id"), "/backfills",
            lambda request: backfill_main(project, request.path_params["backfill_id"]))),
        Route("/approvals", view(title("Approvals"), "/approvals", approvals)),
        Route("/approvals/{request_id}", view(named("request_id"), "/approvals", approvals)),
        Route("/approvals/{request_id}", action(decide, "/approvals", approvals),
              methods=["POST"]),
        Route("/launch", action(launch, "/runs", after_launch), methods=["POST"]),
    ]

"""The Starlette application of `flowstone ui`: routes, the token and origin checks, and errors.

Reading: every page needs the per-server token, given once in the URL the command prints and
then kept in a same-site cookie. Changing (approve, reject, launch): the token must also come in
the form (or the `X-FlowStone-Token` header) and the request's `Origin` must be this server;
anything else gets 403, and with `read_only` every change is refused.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from urllib.parse import parse_qsl
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from flowstone_cli.errors import FlowStoneError, NotFoundError
from flowstone_cli.project.interpolate import redact
from flowstone_cli.project.loader import Project
from flowstone_cli.web.html import Html, esc, page
from flowstone_cli.web.live import Watcher, event_stream

TRUSTED_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


@dataclass
class UiConfig:
    """What the server needs: the loaded project, its secret token and its mode."""

    project: Project
    token: str
    read_only: bool = False
    host: str = "127.0.0.1"
    interval: float = 0.5
    should_exit: Callable[[], bool] = field(default=lambda: False)


class Forbidden(Exception):
    """A request that fails the token, host or origin check."""


def cookie_name(request: Request) -> str:
    """Cookies ignore ports: one name per server port keeps two servers apart."""
    return f"flowstone_token_{request.url.port or 80}"


def create_app(config: UiConfig) -> Starlette:
    """The application; pages are built by the `*_pages` modules through `api` calls."""
    from flowstone_cli.web import handlers

    watcher = Watcher(config.project, interval=config.interval,
                      should_exit=config.should_exit)

    def valid(candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), config.token.encode())

    def check_host(request: Request) -> None:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if config.host in WILDCARD_HOSTS:  # every address of the machine: any name reaches it
            return
        if host not in TRUSTED_HOSTS and host != config.host:
            raise Forbidden(f"unexpected Host header {host!r}")

    def check_read(request: Request) -> None:
        check_host(request)
        if not (valid(request.query_params.get("token"))
                or valid(request.cookies.get(cookie_name(request)))):
            raise Forbidden("this page needs the token from the URL `flowstone ui` printed")

    async def check_change(request: Request) -> dict[str, str]:
        check_host(request)
        if config.read_only:
            raise Forbidden("the dashboard runs with --read-only: nothing can be changed here")
        origin = request.headers.get("origin")
        expected = f"{request.url.scheme}://{request.headers.get('host')}"
        if origin != expected:
            raise Forbidden(f"refused a change from origin {origin!r}")
        form = await read_form(request)
        if not valid(request.headers.get("x-flowstone-token") or form.get("token")):
            raise Forbidden("a change needs the server's token")
        return form

    hidden = frozenset(config.project.secrets) | frozenset(
        escape(s, quote=True) for s in config.project.secrets)

    def hide(text: str) -> str:
        """No resolved `${VAR}` secret ever reaches the browser."""
        return redact(text, hidden) if hidden else text

    def forbidden(exc: Forbidden) -> Response:
        return HTMLResponse(f"<!doctype html><title>403</title><h1>403 Forbidden</h1>"
                            f"<p>{esc(str(exc))}</p>", status_code=403)

    def render(request: Request, title: str, active: str, main: Html, *,
               status_code: int = 200, flash: str | None = None) -> Response:
        if request.headers.get("x-fragment"):
            return HTMLResponse(hide(main), status_code=status_code,
                                headers={"X-Version": str(watcher.version)})
        token = None if config.read_only else config.token
        body = page(title, main, project=config.project.name, active=active, token=token,
                    read_only=config.read_only, version=watcher.version, flash=flash)
        response = HTMLResponse(hide(body), status_code=status_code,
                                headers={"Cache-Control": "no-store",
                                         "Content-Security-Policy": CSP,
                                         "X-Content-Type-Options": "nosniff",
                                         "Referrer-Policy": "no-referrer"})
        if valid(request.query_params.get("token")):
            response.set_cookie(cookie_name(request), config.token, httponly=True,
                                samesite="strict", path="/")
        return response

    def view(title: Callable[[Request], str], active: str,
             build: Callable[[Request], Html]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                check_read(request)
                main = await anyio.to_thread.run_sync(build, request)
                return render(request, title(request), active, main)
            except Forbidden as exc:
                return forbidden(exc)
            except FlowStoneError as exc:
                status = 404 if isinstance(exc, NotFoundError) else 400
                return render(request, "Error", active, error_main(exc), status_code=status)
        return endpoint

    def action(run: Callable[[Request, dict[str, str]], dict[str, Any]], active: str,
               after: Callable[[Request], Html]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                form = await check_change(request)
            except Forbidden as exc:
                return forbidden(exc)
            try:
                result = await anyio.to_thread.run_sync(run, request, form)
                status_code, message = 200, result["message"]
            except FlowStoneError as exc:
                status_code = 409 if "already decided" in exc.message else 400
                result = {"error": exc.message, "hint": exc.hint}
                message = f"{exc.message}. {exc.hint}".strip()
            await watcher.refresh()
            if "application/json" in request.headers.get("accept", ""):
                return Response(hide(json.dumps({"ok": status_code == 200, "message": message,
                                                 **result}, default=str)),
                                status_code=status_code, media_type="application/json")
            main = await anyio.to_thread.run_sync(after, request)
            return render(request, "Result", active, main, status_code=status_code,
                          flash=message)
        return endpoint

    async def events(request: Request) -> Response:
        try:
            check_read(request)
        except Forbidden as exc:
            return forbidden(exc)
        try:
            last = int(request.headers.get("last-event-id") or -1)
        except ValueError:
            last = -1
        return StreamingResponse(event_stream(watcher, last, hide), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def state(request: Request) -> Response:
        try:
            check_read(request)
        except Forbidden as exc:
            return forbidden(exc)
        return Response(hide(json.dumps(watcher.payload())), media_type="application/json")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404)
        body = resources.files("flowstone_cli.web").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    routes = handlers.routes(config, view, action) + [
        Route("/events", events), Route("/api/state", state),
        Route("/static/{name}", static)]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await watcher.refresh()
        async with anyio.create_task_group() as group:
            group.start_soon(watcher.run)
            yield
            group.cancel_scope.cancel()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.watcher = watcher
    return app


STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
# Everything the page loads comes from this server; inline scripts never run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (what the pages send); the last value of a repeated field."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def error_main(exc: FlowStoneError) -> Html:
    """An error as the `<main>` of a page."""
    return Html(f'<h1>Not possible</h1><p class="error">{esc(exc.message)}</p>'
                f'<p class="muted">{esc(exc.hint or "")}</p>')

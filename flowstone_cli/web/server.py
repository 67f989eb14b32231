"""Running the dashboard: a uvicorn server on one socket, with a fresh secret token.

Ctrl-C (or SIGTERM) sets uvicorn's `should_exit`; the watcher and every event stream check it,
so the server stops within a few seconds even with pages open.
"""

from __future__ import annotations

import logging
import secrets
import socket
import sys
import webbrowser
from collections.abc import Callable

import uvicorn

from flowstone_cli.errors import UsageError
from flowstone_cli.project.loader import Project
from flowstone_cli.web.app import TRUSTED_HOSTS, UiConfig, create_app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port).

    Raises:
        UsageError: the address is taken or cannot be used.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         hint="Pick another --port (0 picks a free one).") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(project: Project, *, host: str = "127.0.0.1", port: int = 8765,
          read_only: bool = False, open_browser: bool = True, interval: float = 0.5,
          say: Callable[[str], None] = print, warn: Callable[[str], None] = print) -> None:
    """Serve the dashboard until Ctrl-C."""
    token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    server: uvicorn.Server | None = None
    config = UiConfig(project, token, read_only=read_only, host=host, interval=interval,
                      should_exit=lambda: server is not None and server.should_exit)
    app = create_app(config)
    logging.getLogger("flowstone.ui").addHandler(logging.StreamHandler(sys.stderr))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=3, access_log=False))
    shown = f"[{host}]" if ":" in host else host
    link = f"http://{shown}:{actual}/?token={token}"
    if host not in TRUSTED_HOSTS:
        warn(f"warning: listening on {host}: anyone who can reach this address and has the "
             "URL can approve checkpoints and launch runs (use --read-only to prevent it)")
    say(f"FlowStone dashboard of `{project.name}`"
        f"{' (read-only)' if read_only else ''}: {link}")
    say("Press Ctrl-C to stop.")
    if open_browser:
        webbrowser.open(link)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()

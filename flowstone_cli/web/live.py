"""Live updates: one watcher per server and a server-sent event stream per open page.

The watcher `stat`s the metadata store every `interval` seconds (no lock, so a run is never made
to wait). Only when a write was committed does it read the dashboard state, in one short
read-only session on a worker thread, and bump `version`. Each page's `EventSource` receives
the state with `id: version`; on reconnect the browser sends `Last-Event-ID` and gets the
current state only if it missed a change. Streams end as soon as the server is asked to stop,
so Ctrl-C is not held up by open pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread

from flowstone_cli.api.dashboard import DashboardState, dashboard_state, store_signature
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.project.loader import Project

log = logging.getLogger("flowstone.ui")

# Staleness by age (max_age) changes without any write: re-read at least this often.
REFRESH_SECONDS = 30.0
HEARTBEAT_SECONDS = 15.0


class Watcher:
    """Polls the store's change signature and keeps the latest dashboard state."""

    def __init__(self, project: Project, *, interval: float = 0.5,
                 should_exit: Callable[[], bool] = lambda: False) -> None:
        self.project = project
        self.interval = interval
        self.should_exit = should_exit
        self.version = 0
        self.state: DashboardState | None = None
        self.reads = 0
        self._signature: str | None = None
        self._read_at = 0.0
        self._changed = asyncio.Event()

    async def refresh(self) -> None:
        """Read the state now if the store changed (or it is time to re-check staleness).

        A change is pushed after a quick read (staleness carried over); the full staleness
        check follows at once when no run is going, and is pushed too if it differs.
        """
        signature = store_signature(self.project)
        due = time.monotonic() - self._read_at > REFRESH_SECONDS
        if signature == self._signature and not due and self.state is not None:
            return
        quick = self.state is not None and not due
        state = await self._read(staleness=not quick)
        if state is None:
            return
        self._signature = signature
        self._publish(state)
        if not state.complete and "running" not in state.runs.values():
            full = await self._read(staleness=True)
            if full is not None:
                self._publish(full)
        if state.complete or not quick:
            self._read_at = time.monotonic()

    async def _read(self, *, staleness: bool) -> DashboardState | None:
        previous = self.state
        try:
            state = await anyio.to_thread.run_sync(
                lambda: dashboard_state(self.project, previous=previous, staleness=staleness))
        except FlowStoneError as exc:  # busy store or a transient read error: next poll
            log.warning("dashboard state not read: %s", exc.message)
            return None
        self.reads += 1
        return state

    def _publish(self, state: DashboardState) -> None:
        changed = self.state is None or state.to_dict() != self.state.to_dict()
        self.state = state
        if changed:
            self.version += 1
            self._changed.set()
            self._changed = asyncio.Event()

    async def run(self) -> None:
        """Poll until the server stops."""
        while not self.should_exit():
            await self.refresh()
            await asyncio.sleep(self.interval)

    async def wait(self, timeout: float) -> None:
        """Return on the next change or after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    def payload(self) -> dict[str, Any]:
        """The current state with its version."""
        data = self.state.to_dict() if self.state is not None else {}
        return {"version": self.version, **data}


async def event_stream(watcher: Watcher, last_seen: int,
                       hide: Callable[[str], str] = str) -> AsyncIterator[str]:
    """Server-sent events: the state whenever it changed since `last_seen`, and heartbeats."""
    yield "retry: 1500\n\n"
    quiet = 0.0
    while not watcher.should_exit():
        if watcher.state is not None and watcher.version != last_seen:
            last_seen = watcher.version
            quiet = 0.0
            yield f"id: {last_seen}\nevent: state\ndata: {hide(json.dumps(watcher.payload()))}\n\n"
        await watcher.wait(timeout=1.0)
        quiet += 1.0
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield ": heartbeat\n\n"

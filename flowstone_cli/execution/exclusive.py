"""Holding asset partitions' claims outside a materialization (for `wipe`).

A run claims the steps it computes (`execution/claims.py`); a command that deletes stored values
must hold the same claims, or a run could publish and record a value between the command's
reading of the store and its deletes, leaving a current record whose file is gone. The holder is
recorded as a run of its own (trigger `wipe`) so the claims follow the usual liveness rules: a
killed holder is reaped like any crashed run, and a waiting materialization treats it like any
other claiming run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from flowstone_cli.errors import ExitCode, FlowStoneError
from flowstone_cli.execution.liveness import find_dead, process_token
from flowstone_cli.metadata.records import RunRecord
from flowstone_cli.metadata.statuses import RunStatus
from flowstone_cli.metadata.store import MetadataStore, StoreWriter

T = TypeVar("T")
Key = tuple[str, str | None]
_POLL_SECONDS = 0.2


class ClaimsBusyError(FlowStoneError):
    """Another live run kept claiming the partitions past the deadline."""

    code = "claims_busy"
    exit_code = ExitCode.STORE_BUSY
    default_retryable = True


def acquire(store: MetadataStore, keys: Sequence[Key], record: RunRecord, *, timeout: float,
            inside: Callable[[StoreWriter], T],
            on_wait: Callable[[set[str]], None] | None = None) -> T:
    """Record `record` (a running run) and claim `keys` for it once no live run holds any of
    them; `inside(writer)` runs in that same session and its result is returned.

    Args:
        timeout: seconds to wait for other runs' claims to go away.
        on_wait: told the ids of the runs waited for, once, when waiting starts.

    Raises:
        ClaimsBusyError: live runs still held claims after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    told = False
    while True:
        with store.writer() as writer:
            now = datetime.now(timezone.utc)
            running = writer.running_runs()
            dead = find_dead(running, now=now)
            if dead:
                writer.reap_runs(dead.reasons, now)
            alive = {r.run_id for r in running} - set(dead.reasons)
            holders = {c.run_id for c in writer.claims_on(list(keys)).values()}
            for gone in holders - alive:
                writer.release_claims(gone)  # its run ended: nobody computes these any more
            holders &= alive
            if not holders:
                writer.insert_run(record)
                # No planned steps: there is nothing for `runs resume` to compute for a wipe.
                writer.record_ownership(record.run_id, process_token(os.getpid()), [])
                writer.claim(record.run_id, list(keys), now)
                return inside(writer)
        if time.monotonic() >= deadline:
            raise ClaimsBusyError(
                f"run {sorted(holders)[0]} is materializing these partitions right now",
                hint="Wait for it to finish (or cancel it with `flowstone runs cancel`), then "
                     "try again.")
        if on_wait is not None and not told:
            on_wait(holders)
            told = True
        time.sleep(_POLL_SECONDS)


def release(store: MetadataStore, run_id: str, status: RunStatus,
            summary: dict[str, Any]) -> None:
    """Drop the holder's claims and close its run record."""
    now = datetime.now(timezone.utc)
    with store.writer() as writer:
        writer.release_claims(run_id)
        writer.update_run(run_id, status=status, ended_at=now, heartbeat_at=now, summary=summary)

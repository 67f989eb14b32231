"""Delivering one notification: a JSON POST to a webhook, or a program reading JSON on stdin.

A delivery either succeeds or raises `NotificationError`; callers record the failure and retry
it on the next `flowstone tick`. Nothing here ever fails a run.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowstone_cli.errors import FlowStoneError

EVENTS = ("checkpoint_requested", "checkpoint_escalated", "checkpoint_decided", "run_failed")


class NotificationError(FlowStoneError):
    """A notification could not be delivered (it will be retried)."""

    code = "notification_failed"
    default_retryable = True


@dataclass(frozen=True)
class NotificationTarget:
    """A configured `[notifications.NAME]`.

    Attributes:
        name: the section name.
        type: "webhook" or "command".
        url: webhook URL (may come from `${VAR}`; never printed).
        command: argv of the program (it gets the event as JSON on stdin).
        headers: extra HTTP headers for webhooks.
        events: the event kinds to send (default: all).
        timeout: seconds before a delivery counts as failed.
    """

    name: str
    type: str
    url: str | None = None
    command: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    events: tuple[str, ...] = EVENTS
    timeout: float = 10.0

    def wants(self, event: str) -> bool:
        """Whether this target subscribes to `event`."""
        return event in self.events


def deliver(target: NotificationTarget, payload: Mapping[str, Any]) -> None:
    """Send one payload to one target.

    Raises:
        NotificationError: the delivery failed (HTTP error, unreachable, program failed); the
            message names the target but never the URL, which may hold a secret.
    """
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    if target.type == "webhook":
        request = urllib.request.Request(target.url or "", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "flowstone",
                                                  **dict(target.headers)})
        try:
            with urllib.request.urlopen(request, timeout=target.timeout) as response:
                if response.status >= 300:
                    raise NotificationError(f"notification `{target.name}`: webhook answered "
                                            f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            raise NotificationError(f"notification `{target.name}`: webhook answered HTTP "
                                    f"{exc.code}", hint="Check the receiving service.") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotificationError(f"notification `{target.name}`: webhook not reachable "
                                    f"({type(reason).__name__})",
                                    hint="It is retried on the next `flowstone tick`.") from None
        return
    try:
        proc = subprocess.run(list(target.command), input=body, capture_output=True,
                              timeout=target.timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotificationError(f"notification `{target.name}`: cannot run "
                                f"{target.command[0] if target.command else '?'}: "
                                f"{type(exc).__name__}") from None
    if proc.returncode != 0:
        raise NotificationError(f"notification `{target.name}`: command exited with "
                                f"{proc.returncode}",
                                hint=proc.stderr.decode(errors="replace")[-200:])


def targets_from_config(sections: Mapping[str, Any]) -> dict[str, NotificationTarget]:
    """`[notifications.*]` sections (validated config models) as delivery targets."""
    return {name: NotificationTarget(name=name, type=s.type, url=s.url,
                                     command=tuple(s.command or ()), headers=dict(s.headers),
                                     events=tuple(s.events or EVENTS), timeout=s.timeout)
            for name, s in sections.items()}


def subscribers(targets: Mapping[str, NotificationTarget], names: Sequence[str],
                event: str) -> list[NotificationTarget]:
    """The targets among `names` that want `event`."""
    return [targets[n] for n in names if n in targets and targets[n].wants(event)]

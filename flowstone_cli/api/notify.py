"""Queueing notifications in the metadata store and delivering them.

Events are queued in the same write session as the fact they announce, then delivered; a failed
delivery stays queued and `flowstone tick` retries it. Delivery never fails a run or a command.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.metadata.ids import new_id
from flowstone_cli.metadata.store import MetadataStore, StoreWriter
from flowstone_cli.notifications.senders import (
    NotificationError,
    deliver,
    subscribers,
    targets_from_config,
)
from flowstone_cli.project.loader import Project
from flowstone_cli.redaction import Redactor

logger = logging.getLogger("flowstone.notifications")
MAX_ATTEMPTS = 50


def queue(writer: StoreWriter, project: Project, names: Sequence[str], event: str,
          payload: Mapping[str, Any]) -> int:
    """Queue `event` for the named targets that subscribe to it; returns how many."""
    targets = subscribers(targets_from_config(project.config.notifications), names, event)
    body = json.dumps({"event": event, "project": project.name, **payload}, sort_keys=True,
                      default=str)
    writer.queue_notifications([(new_id(), t.name, event, body) for t in targets],
                               datetime.now(timezone.utc))
    return len(targets)


def failure_targets(project: Project) -> list[str]:
    """Targets told about failed runs (`on_run_failure = true`, the default)."""
    return [name for name, section in project.config.notifications.items()
            if section.on_run_failure]


def deliver_pending(project: Project, store: MetadataStore) -> dict[str, int]:
    """Try every queued notification once; returns counts of sent and failed deliveries."""
    if not store.exists():
        return {"sent": 0, "failed": 0}
    with store.reader() as reader:
        pending = reader.pending_notifications()
    if not pending:
        return {"sent": 0, "failed": 0}
    targets = targets_from_config(project.config.notifications)
    # The outbox is redacted when written; redacting again here also covers rows queued by an
    # older FlowStone, before anything leaves the machine.
    redactor = Redactor(project.secrets)
    results: list[tuple[str, bool, str | None]] = []
    for notification_id, target_name, event, payload, attempts in pending:
        target = targets.get(target_name)
        if target is None or attempts >= MAX_ATTEMPTS:
            results.append((notification_id, False, "target no longer configured"
                            if target is None else "gave up after too many attempts"))
            continue
        try:
            deliver(target, redactor.value(json.loads(payload)))
            results.append((notification_id, True, None))
        except NotificationError as exc:
            logger.warning("%s (%s; will retry)", exc.message, event)
            results.append((notification_id, False, exc.message))
    now = datetime.now(timezone.utc)
    with store.writer() as writer:
        for notification_id, sent, error in results:
            writer.mark_notification(notification_id, sent=sent, error=error, when=now)
    sent = sum(1 for _, ok, _ in results if ok)
    return {"sent": sent, "failed": len(results) - sent}

"""Checkpoint approvals: list, show, approve (with a JSON merge patch), reject, expire, escalate.

A decision is recorded on the request's row only while it is still pending (one UPDATE ...
WHERE status = 'pending'), so of two concurrent `approve` calls exactly one wins. By default a
decision resumes the paused run's work at once: the same selection for that partition, where the
approved checkpoint stores the (possibly patched) value and its downstream runs, or, after a
rejection, is recorded as skipped with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flowstone_cli.api import notify
from flowstone_cli.api.materialize import MaterializeOptions, current_actor, materialize
from flowstone_cli.api.wiring import build_io_managers, open_store
from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.errors import UsageError
from flowstone_cli.events import EventSink, discard
from flowstone_cli.execution.outcomes import RunSummary
from flowstone_cli.execution.runtime import partition_info
from flowstone_cli.io.base import StoreContext
from flowstone_cli.metadata.checkpoints import CheckpointRequest, RequestStatus
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.project.loader import Project
from flowstone_cli.review.merge_patch import canonical_hash, json_like, load_patch, merge_patch

DECIDED = "already decided"


@dataclass(frozen=True)
class Decision:
    """The outcome of approve/reject/expire for one request."""

    request: CheckpointRequest
    resumed: RunSummary | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"request": self.request.to_dict(),
                "resumed_run": self.resumed.to_dict() if self.resumed else None}


def list_requests(project: Project, *, status: str | None = None,
                  backfill_id: str | None = None) -> list[CheckpointRequest]:
    """Requests, newest first (`status`: pending, approved, rejected, expired)."""
    if status is not None and status not in ("pending", "approved", "rejected", "expired"):
        raise UsageError(f"unknown status `{status}`",
                         hint="Use pending, approved, rejected or expired.")
    store = open_store(project)
    if not store.exists():
        return []
    with store.reader() as reader:
        return reader.list_checkpoints(status=status, backfill_id=backfill_id)


def get_request(project: Project, reference: str) -> CheckpointRequest:
    """One request by id (or unique prefix), or `CHECKPOINT` / `CHECKPOINT[PARTITION]` for the
    newest request of that checkpoint partition."""
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(.+)\])?", reference)
    with open_store(project).reader() as reader:
        if match and isinstance(project.definitions.assets.get(match.group(1)), CheckpointSpec):
            key = (match.group(1), match.group(2))
            found = reader.latest_checkpoint_requests([key]).get(key)
            if found is None:
                raise UsageError(f"checkpoint `{reference}` has no request",
                                 hint="See `flowstone checkpoints list`.")
            return found
        return reader.get_checkpoint(reference)


def _spec(project: Project, request: CheckpointRequest) -> CheckpointSpec:
    spec = project.definitions.assets.get(request.checkpoint)
    if not isinstance(spec, CheckpointSpec):
        raise UsageError(f"checkpoint `{request.checkpoint}` is no longer defined",
                         hint="Restore it, or decide nothing: the request stays recorded.")
    return spec


def _check_pending(request: CheckpointRequest) -> None:
    if request.status is RequestStatus.EXPIRED:
        raise UsageError(f"request {request.request_id} expired at "
                         f"{request.decided_at:%Y-%m-%d %H:%M} and was {request.outcome} "
                         "automatically", hint="Materialize the checkpoint again to get a new "
                                               "request.")
    if request.status is not RequestStatus.PENDING:
        raise UsageError(f"request {request.request_id} is {DECIDED}: {request.status.value} by "
                         f"{request.decided_by}", hint="A request is decided once.")


def _patched_hashes(project: Project, request: CheckpointRequest, patch: Any
                    ) -> tuple[str, str]:
    spec = project.definitions.assets[request.upstream_asset]
    manager = build_io_managers(project, [spec.io_manager])[spec.io_manager]
    info = partition_info(spec, request.partition)
    value = manager.load(StoreContext(spec.name, request.partition, info.path))
    if not json_like(value):
        raise UsageError(f"--patch needs a JSON-like value; `{spec.name}` holds a "
                         f"{type(value).__name__}", hint="Approve without --patch.")
    return canonical_hash(value), canonical_hash(merge_patch(value, patch))


def _resume(project: Project, request: CheckpointRequest, sink: EventSink,
            trigger: str) -> RunSummary:
    with open_store(project).reader() as reader:
        run = reader.get_run(request.run_id)
    partitions = PartitionRequest(keys=(request.partition,)) if request.partition else \
        PartitionRequest()
    options = MaterializeOptions(selection=(run.selection or request.checkpoint).split(),
                                 partitions=partitions, trigger=trigger,
                                 backfill_id=run.backfill_id)
    summary = materialize(project, options, sink=sink)
    with open_store(project).writer() as writer:
        writer.update_checkpoint(request.request_id, resumed_run_id=summary.run_id)
    return summary


def decide(project: Project, request_id: str, *, approve: bool, by: str | None = None,
           reason: str | None = None, patch_file: Path | None = None, resume: bool = True,
           sink: EventSink = discard, patch_text: str | None = None) -> Decision:
    """Approve or reject one pending request, then (by default) resume the paused work.

    The merge patch comes from `patch_file` or, as text, from `patch_text` (the dashboard).

    Raises:
        UsageError: unknown, expired or already decided request; a bad patch (exit 2).
    """
    store = open_store(project)
    request = get_request(project, request_id)
    _check_pending(request)
    spec = _spec(project, request)
    patch = None
    before = after = None
    if patch_file is not None or patch_text is not None:
        if not approve:
            raise UsageError("--patch only goes with approve", hint="Drop --patch.")
        source = str(patch_file) if patch_file is not None else "the patch"
        text = patch_file.read_text(encoding="utf-8") if patch_file is not None else patch_text
        patch = load_patch(text or "", source)
        if not isinstance(patch, dict) or not patch:
            raise UsageError(f"{source} must hold a non-empty JSON object (a merge patch)",
                             hint='e.g. {"title": "Fixed title", "draft": null}')
        before, after = _patched_hashes(project, request, patch)
    actor = current_actor(by)
    outcome = "approved" if approve else "rejected"
    now = datetime.now(timezone.utc)
    with store.writer() as writer:
        won = writer.decide_checkpoint(request.request_id, status=RequestStatus(outcome),
                                       outcome=outcome, by=actor, reason=reason, when=now,
                                       patch=patch,
                                       before_hash=before, after_hash=after)
        if not won:
            current = writer.get_checkpoint(request.request_id)
            raise UsageError(f"request {request.request_id} is {DECIDED}: "
                             f"{current.status.value} by {current.decided_by}",
                             hint="A request is decided once.")
        notify.queue(writer, project, spec.notify, "checkpoint_decided",
                     {"request_id": request.request_id, "checkpoint": request.checkpoint,
                      "partition": request.partition, "decision": outcome, "by": actor,
                      "reason": reason, "patched": patch is not None})
        decided = writer.get_checkpoint(request.request_id)
    notify.deliver_pending(project, store)
    summary = _resume(project, decided, sink, f"approval:{request.request_id}") if resume \
        else None
    return Decision(decided, summary)


def approve_backfill(project: Project, backfill_id: str, *, by: str | None = None,
                     reason: str | None = None, resume: bool = True,
                     sink: EventSink = discard) -> list[Decision]:
    """Approve every pending request of a backfill."""
    with open_store(project).reader() as reader:
        record = reader.get_backfill(backfill_id)
        # Requests made by the backfill's runs, and those its runs found already pending
        # (a request is made once per upstream value, whichever run got there first).
        pending = reader.list_checkpoints(status="pending", backfill_id=record.backfill_id,
                                          limit=100_000)
        held = [(s.asset, s.partition) for s in reader.backfill_steps(record.backfill_id)
                if s.status.value == "waiting_approval"]
        known = {r.request_id for r in pending}
        pending += [r for r in reader.latest_checkpoint_requests(held).values()
                    if r.status is RequestStatus.PENDING and r.request_id not in known]
    if not pending:
        raise UsageError(f"backfill {record.backfill_id} has no pending requests",
                         hint="See `flowstone checkpoints list`.")
    decisions = [decide(project, r.request_id, approve=True, by=by, reason=reason,
                        resume=False) for r in pending]
    if resume:
        options = MaterializeOptions(selection=record.selection.split(),
                                     partitions=PartitionRequest(keys=tuple(
                                         r.partition for r in pending if r.partition)),
                                     trigger=f"approval:{record.backfill_id}",
                                     backfill_id=record.backfill_id)
        summary = materialize(project, options, sink=sink)
        with open_store(project).writer() as writer:
            status = {"succeeded": "succeeded", "failed": "failed", "canceled": "canceled",
                      "waiting_approval": "waiting_approval"}.get(summary.status.value,
                                                                  "failed")
            writer.update_backfill(record.backfill_id, status=status,
                                   summary={"last_run": summary.run_id,
                                            "counts": summary.counts})
        decisions = [Decision(d.request, summary) for d in decisions]
    return decisions


def expire(project: Project, *, now: datetime | None = None, resume: bool = True,
           sink: EventSink = discard) -> list[Decision]:
    """Escalate overdue requests once and decide timed-out ones by their `on_timeout`."""
    store = open_store(project)
    if not store.exists():
        return []
    moment = now or datetime.now(timezone.utc)
    with store.reader() as reader:
        pending = reader.list_checkpoints(status="pending", limit=100_000)
    decided: list[CheckpointRequest] = []
    with store.writer() as writer:
        for request in pending:
            spec = project.definitions.assets.get(request.checkpoint)
            if not isinstance(spec, CheckpointSpec):
                continue
            if request.timeout_at is not None and request.timeout_at <= moment:
                outcome = "approved" if spec.on_timeout == "approve" else "rejected"
                if writer.decide_checkpoint(request.request_id, status=RequestStatus.EXPIRED,
                                            outcome=outcome, by="timeout",
                                            reason=f"no decision within {spec.approval_timeout}",
                                            when=moment):
                    notify.queue(writer, project, spec.notify, "checkpoint_decided",
                                 {"request_id": request.request_id, "checkpoint": spec.name,
                                  "partition": request.partition, "decision": outcome,
                                  "by": "timeout"})
                    decided.append(writer.get_checkpoint(request.request_id))
            elif (request.escalate_at is not None and request.escalate_at <= moment
                  and request.escalated_at is None):
                writer.update_checkpoint(request.request_id, escalated_at=moment)
                notify.queue(writer, project, spec.notify, "checkpoint_escalated",
                             {"request_id": request.request_id, "checkpoint": spec.name,
                              "partition": request.partition,
                              "requested_at": request.requested_at,
                              "approve": f"flowstone approve {request.request_id}"})
    notify.deliver_pending(project, store)
    results = []
    for request in decided:
        summary = _resume(project, request, sink, f"timeout:{request.request_id}") if resume \
            else None
        results.append(Decision(request, summary))
    return results


__all__: Sequence[str] = ["Decision", "approve_backfill", "decide", "expire", "get_request",
                          "list_requests"]

"""What the coordinator records for checkpoint steps: requests, passes, and held steps."""

from __future__ import annotations

from datetime import datetime

from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.execution.tasks import StepResult
from flowstone_cli.metadata.checkpoints import CheckpointRequest, RequestStatus
from flowstone_cli.metadata.ids import new_id
from flowstone_cli.planning.gates import WAITING_PREFIX
from flowstone_cli.planning.plan import StepKey


def new_request(spec: CheckpointSpec, key: StepKey, run_id: str, result: StepResult,
                now: datetime, backfill_id: str | None) -> CheckpointRequest:
    """The approval request for a checkpoint step whose condition held."""
    timeout_at, escalate_at = spec.deadlines(now)
    return CheckpointRequest(
        request_id=new_id()[:12], checkpoint=spec.name, partition=key.partition, run_id=run_id,
        upstream_asset=spec.upstream_input,
        upstream_step_id=result.metadata.get("upstream_step_id"),
        status=RequestStatus.PENDING, summary=result.metadata.get("summary") or {},
        value_hash=result.metadata.get("value_hash"), requested_at=now, timeout_at=timeout_at,
        escalate_at=escalate_at, backfill_id=backfill_id)


def pass_record(spec: CheckpointSpec, key: StepKey, run_id: str, upstream_step_id: str | None,
                value_hash: str | None, now: datetime, backfill_id: str | None
                ) -> CheckpointRequest:
    """The record of a checkpoint whose condition was false: the value passed straight on."""
    return CheckpointRequest(
        request_id=new_id()[:12], checkpoint=spec.name, partition=key.partition, run_id=run_id,
        upstream_asset=spec.upstream_input, upstream_step_id=upstream_step_id,
        status=RequestStatus.PASSED, outcome="passed", value_hash=value_hash,
        requested_at=now, decided_at=now, decided_by="condition", backfill_id=backfill_id)


def is_waiting(reason: str) -> bool:
    """Whether a held checkpoint step waits for a person (rather than was rejected)."""
    return reason.startswith(WAITING_PREFIX)

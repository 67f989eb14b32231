"""Checkpoint gates in a plan: which checkpoint steps wait, pass an approved value, or block.

For a checkpoint step that would run, the newest request for its partition decides, but only
when it was made for the upstream materialization the step would read now (a new upstream
value gets a new review):

| newest request | the step |
|---|---|
| pending | blocked: "waiting for approval: flowstone approve ID"; its downstream waits too |
| approved (or expired with on_timeout="approve") | runs with the approval: stores the (patched) value, downstream runs |
| rejected (or expired with on_timeout="reject") | blocked: "checkpoint rejected by X: reason"; its downstream is skipped |
| none, or for an older upstream value | runs its condition |
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.metadata.checkpoints import CheckpointRequest, RequestStatus
from flowstone_cli.planning.plan import Action, Plan, StepKey

Key = tuple[str, "str | None"]
WAITING_PREFIX = "waiting for approval: "


@dataclass(frozen=True)
class Gates:
    """Per checkpoint step: its approval (request id, patch JSON) or why it is blocked."""

    approvals: Mapping[Key, tuple[str, str]]
    blocked: Mapping[Key, str]


def checkpoint_keys(plan: Plan, definitions: Definitions) -> list[Key]:
    """(checkpoint, partition) of every checkpoint step the plan would run."""
    return [(s.key.asset, s.key.partition) for s in plan.steps if s.action is Action.RUN
            and isinstance(definitions.assets[s.key.asset], CheckpointSpec)]


def reason_for(request: CheckpointRequest) -> str:
    """Why a checkpoint step does not run while `request` stands."""
    if request.status is RequestStatus.PENDING:
        return f"{WAITING_PREFIX}flowstone approve {request.request_id}"
    return f"checkpoint {decision(request)}"


def decision(request: CheckpointRequest) -> str:
    """"rejected by NAME: REASON" (the reason only when one was given)."""
    return (f"{request.outcome} by {request.decided_by}"
            + (f": {request.reason}" if request.reason else ""))


def refused(request: CheckpointRequest | None) -> bool:
    """Whether `request` holds its checkpoint back: pending, or decided other than approved."""
    return request is not None and (request.status is RequestStatus.PENDING
                                    or request.outcome != "approved")


def behind_checkpoints(plan: Plan, requests: Mapping[Key, CheckpointRequest]) -> Plan:
    """Skip steps that would read a checkpoint's value that was never stored because its
    newest request is pending or was rejected (`requests`: such checkpoints not run by this
    plan, by key): "review[2025-01-05] was rejected by NAME: REASON", not "has never been
    materialized"."""
    held: dict[StepKey, tuple[Action, str]] = {}
    for step in plan.to_run:
        for up in step.upstream:
            request = requests.get((up.asset, up.partition))
            if refused(request) and not (up in plan and plan.get(up).action is Action.RUN):
                why = (f"is {WAITING_PREFIX}flowstone approve {request.request_id}"
                       if request.status is RequestStatus.PENDING
                       else f"was {decision(request)}")
                held[step.key] = (Action.BLOCKED, f"{up} {why}")
                break
    return plan.decide(held) if held else plan


def gates(plan: Plan, definitions: Definitions, requests: Mapping[Key, CheckpointRequest],
          current_upstream: Mapping[Key, str]) -> Gates:
    """Decide every checkpoint step of a plan from the newest requests.

    Args:
        plan: the decided plan.
        definitions: the project's definitions.
        requests: (checkpoint, partition) -> newest request.
        current_upstream: (checkpoint, partition) -> id of the upstream materialization the
            step would read now.
    """
    approvals: dict[Key, tuple[str, str]] = {}
    blocked: dict[Key, str] = {}
    for key in checkpoint_keys(plan, definitions):
        request = requests.get(key)
        if request is None or (request.upstream_step_id is not None
                               and request.upstream_step_id != current_upstream.get(key)):
            continue
        if request.status is RequestStatus.PENDING or request.outcome != "approved":
            blocked[key] = reason_for(request)
        else:
            approvals[key] = (request.request_id,
                              json.dumps(request.patch) if request.patch else "")
    return Gates(approvals, blocked)


def block(plan: Plan, blocked: Mapping[Key, str]) -> Plan:
    """The plan with blocked checkpoint steps marked `blocked` (their downstream follows)."""
    return plan.decide({StepKey(*key): (Action.BLOCKED, reason)
                        for key, reason in blocked.items()})

"""The worker side of a batch task: hand every member to its batch runner in one call.

The runner (e.g. dbt) runs the whole group with one invocation of its tool inside this worker
process, so a timeout or Ctrl-C that ends the worker ends the tool's threads with it. Its
per-member outcomes become one `StepResult` each, carried by the batch task's own result.
"""

from __future__ import annotations

import os
import socket
import time

from flowstone_cli.definitions.batch import BatchAssetSpec, BatchMember, MemberOutcome
from flowstone_cli.definitions.context import StepLog
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.execution.runtime import StepRuntime, partition_info
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask

_STATUSES = {"succeeded": ResultStatus.SUCCEEDED, "failed": ResultStatus.FAILED}
SKIPPED_BY_TOOL = "skipped_by_tool"
"""Error code of a member the tool did not run because something it depends on failed."""


def _member(runtime: StepRuntime, task: StepTask) -> BatchMember:
    info = partition_info(runtime.assets[task.asset], task.partition)
    window = None
    if info.window is not None:
        window = (info.window[0].isoformat(), info.window[1].isoformat())
    return BatchMember(step_id=task.step_id, asset=task.asset, partition=task.partition,
                       partition_window=window, partition_keys=dict(info.keys or {}),
                       run_id=task.run_id, attempt=task.attempt, tags=dict(task.tags))


def _result(outcome: MemberOutcome, spec: BatchAssetSpec, host: str,
            extra_logs: tuple[tuple[float, str, str], ...]) -> StepResult:
    status = _STATUSES.get(outcome.status, ResultStatus.FAILED)
    error = None
    if status is not ResultStatus.SUCCEEDED:
        code = SKIPPED_BY_TOOL if outcome.status == "skipped" else (outcome.error_code
                                                                   or "batch_step_failed")
        error = StepError(code=code, type="BatchStepFailed",
                          message=outcome.error_message or f"{spec.kind_label} `{spec.name}` "
                          f"{outcome.status}", hint=outcome.hint)
    return StepResult(step_id=outcome.step_id, status=status, started_at=outcome.started_at,
                      ended_at=outcome.ended_at, pid=os.getpid(), host=host,
                      code_version=spec.code_version, uri=outcome.uri,
                      io_manager=spec.io_manager, rows=outcome.rows,
                      metadata=dict(outcome.metadata), logs=extra_logs + outcome.logs,
                      error=error)


def run_batch(runtime: StepRuntime, task: StepTask) -> StepResult:
    """Run a batch task; never raises (except for a KeyboardInterrupt the coordinator sent).

    The result's `members` hold one result per member task, in the batch's order; when the
    runner fails as a whole, the batch result alone carries the error and the coordinator
    applies it to every member.
    """
    host = socket.gethostname()
    started = time.time()
    specs = [runtime.assets[member.asset] for member in task.batch]
    lead = specs[0]
    log = StepLog()
    base = {"step_id": task.step_id, "started_at": started, "pid": os.getpid(), "host": host}
    try:
        if not all(isinstance(spec, BatchAssetSpec) for spec in specs):
            raise FlowStoneError("a batch task holds an asset that is not a batch asset")
        outcomes = lead.runner.run([_member(runtime, member) for member in task.batch], log)
    except BaseException as exc:  # noqa: BLE001 - the tool's error boundary, like user code
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, FlowStoneError):
            error = StepError(code=exc.code, type=type(exc).__name__, message=exc.message,
                              hint=exc.hint)
        else:
            error = StepError(code="batch_error", type=type(exc).__name__,
                              message=f"{type(exc).__name__}: {exc}")
        return StepResult(status=ResultStatus.FAILED, ended_at=time.time(), error=error,
                          logs=_logs(log), **base)
    by_step = {outcome.step_id: outcome for outcome in outcomes}
    general = _logs(log)
    members: list[StepResult] = []
    for index, (member, spec) in enumerate(zip(task.batch, specs)):
        outcome = by_step.get(member.step_id)
        if outcome is None:
            outcome = MemberOutcome(step_id=member.step_id, status="failed",
                                    started_at=started, ended_at=time.time(),
                                    error_code="batch_member_missing",
                                    error_message=f"{spec.kind_label} `{spec.name}` was not run "
                                    "by its tool (no result reported for it)")
        # Lines not about one member (the tool's start and summary) stay with the first one.
        members.append(_result(outcome, spec, host, general if index == 0 else ()))
    failed = any(m.status is not ResultStatus.SUCCEEDED for m in members)
    return StepResult(status=ResultStatus.FAILED if failed else ResultStatus.SUCCEEDED,
                      ended_at=time.time(), members=tuple(members), **base)


def _logs(log: StepLog) -> tuple[tuple[float, str, str], ...]:
    return tuple((r.ts.timestamp(), r.level.value, r.message) for r in log.records)

"""The coordinator's handling of step results: record each attempt with its lineage, then
succeed (checkpoint passes, asset checks), wait for approval, re-queue a rate-limited step,
retry under the asset's policy, or fail and skip the downstream.

`ResultHandling` is mixed into the `Coordinator` (see `coordinator.py`); it uses the
coordinator's state (`plan`, `definitions`, `recorder`, `current`, `outcomes`, `settings`,
`pools`, `_running`, `_delayed`, `_requeues`, `_unsynced_dirs`, `_stop_scheduling`) and its
`_emit`, `_release`, `_skip_downstream` and `_handle_batch`.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.errors import RateLimited
from flowstone_cli.events import Event, EventKind, Level
from flowstone_cli.execution.check_runner import blocking_failures, check_records, failure_text
from flowstone_cli.execution.checkpointing import new_request, pass_record
from flowstone_cli.execution.outcomes import StepOutcome
from flowstone_cli.execution.recorder import event_kind_for_status, utc
from flowstone_cli.execution.tasks import ResultStatus, StepResult
from flowstone_cli.metadata.records import LineageRecord, StepRecord
from flowstone_cli.metadata.statuses import StepStatus
from flowstone_cli.planning.gates import reason_for
from flowstone_cli.planning.plan import StepKey


@dataclass(frozen=True)
class Current:
    """The materialization a consumer would read for one asset partition."""

    step_id: str
    data_version: str | None


class ResultHandling:
    """Turns each `StepResult` into records, events and the next scheduling decision."""

    # -- results ------------------------------------------------------------------------
    def _handle(self, result: StepResult) -> None:
        if self._handle_batch(result):
            return
        key, attempt, _ = self._running.pop(result.step_id)
        self.pools.release(key)
        for ts, level, message in result.logs:
            self.recorder.event(Event(kind=EventKind.LOG, run_id=self.run_id, message=message,
                                      asset=key.asset, partition=key.partition,
                                      step_id=result.step_id, level=Level(level),
                                      ts=utc(ts)))
        if result.error is not None and result.error.code == RateLimited.code:
            delay, result = self._requeues.decide(key, result, stopping=self._stop_scheduling)
            if delay is not None:  # re-queued without holding a worker or using an attempt
                self._delayed.append((self.clock() + delay, key, attempt))
                self._emit(EventKind.STEP_RETRYING, f"{key} rate limited; re-queued in "
                           f"{delay:.1f}s", key=key, step_id=result.step_id,
                           data={"retry_after": round(delay, 3), "requeue": True})
                return
        status = StepStatus(result.status.value)
        error = result.error
        record = StepRecord(
            step_id=result.step_id, run_id=self.run_id, asset=key.asset,
            partition=key.partition, attempt=attempt, status=status,
            reason=self.plan.get(key).reason, started_at=utc(result.started_at),
            ended_at=utc(result.ended_at), duration_ms=result.duration_ms,
            code_version=result.code_version or
            self.definitions.assets[key.asset].code_version,
            data_version=result.data_version, size_bytes=result.size_bytes, rows=result.rows,
            uri=result.uri, io_manager=result.io_manager, pid=result.pid, host=result.host,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            traceback=error.traceback if error else None,
            metadata={**result.metadata, "worker": result.worker} if result.worker
            else result.metadata)
        lineage = [LineageRecord(step_id=result.step_id, upstream_step_id=cur.step_id,
                                 upstream_asset=up.asset, upstream_partition=up.partition,
                                 upstream_data_version=cur.data_version)
                   for up in self.plan.get(key).upstream
                   if (cur := self.current.get((up.asset, up.partition))) is not None]
        self.recorder.step(record, lineage if status is StepStatus.SUCCEEDED else None)
        if result.status is ResultStatus.WAITING_APPROVAL:
            self._await_approval(key, result)
            return
        if result.status is ResultStatus.SUCCEEDED:
            spec = self.definitions.assets[key.asset]
            if isinstance(spec, CheckpointSpec) and result.metadata.get("checkpoint") == "passed":
                upstream = self.current.get((spec.upstream_input, key.partition))
                self.recorder.checkpoint(pass_record(
                    spec, key, self.run_id, upstream.step_id if upstream else None,
                    upstream.data_version if upstream else None, utc(result.ended_at),
                    self.settings.backfill_id))
            if result.uri and os.path.isabs(result.uri):
                self._unsynced_dirs.add(os.path.dirname(result.uri))
            self.current[(key.asset, key.partition)] = Current(result.step_id,
                                                               result.data_version)
            if result.checks and self._checks_block(key, result):
                return
            self.outcomes[key] = StepOutcome(key, status, self.plan.get(key).reason,
                                             duration_ms=result.duration_ms,
                                             step_id=result.step_id, rows=result.rows)
            where = f" on {result.host} ({result.worker})" if result.worker else ""
            self._emit(EventKind.STEP_SUCCEEDED, f"{key} succeeded in "
                       f"{result.duration_ms / 1000:.2f}s{where}", key=key,
                       step_id=result.step_id,
                       data={"duration_ms": round(result.duration_ms, 1), "rows": result.rows,
                             "size_bytes": result.size_bytes,
                             **({"host": result.host, "worker": result.worker}
                                if result.worker else {})})
            self._release(key)
            return
        spec = self.definitions.assets[key.asset]
        retry = spec.retry
        if (result.status is ResultStatus.FAILED and error is not None and error.retryable
                and retry is not None and attempt < retry.max_attempts
                and not self._stop_scheduling):
            delay = retry.delay_before(attempt + 1)
            delay += delay * retry.jitter * random.random()
            self._delayed.append((self.clock() + delay, key, attempt + 1))
            self._emit(EventKind.STEP_RETRYING, f"{key} failed ({error.message}); retrying in "
                       f"{delay:.1f}s (attempt {attempt + 1} of {retry.max_attempts})", key=key,
                       step_id=result.step_id, level=Level.WARNING)
            return
        message = error.message if error else status.value
        self.outcomes[key] = StepOutcome(key, status, message, duration_ms=result.duration_ms,
                                         step_id=result.step_id,
                                         error_code=error.code if error else None,
                                         hint=error.hint if error else "")
        if status is not StepStatus.CANCELED:
            self._emit(event_kind_for_status(status.value), f"{key} {status.value}: {message}",
                       key=key, step_id=result.step_id, level=Level.ERROR,
                       data={"error_code": error.code if error else None})
            if self.settings.fail_fast:
                self._stop_scheduling = True
        if status is StepStatus.CANCELED:
            self._skip_downstream(key, "run canceled", StepStatus.CANCELED)
        else:
            self._skip_downstream(key, f"upstream {key} {status.value}")

    def _checks_block(self, key: StepKey, result: StepResult) -> bool:
        """Record the step's check results; True when a blocking check failed (the value is
        stored and recorded, but its downstream is skipped and the run fails)."""
        self.recorder.checks(check_records(result.checks, asset=key.asset,
                                           partition=key.partition,
                                           materialization=result.step_id, run_id=self.run_id))
        failures = blocking_failures(result.checks)
        for check in result.checks:
            if not check["passed"] and check not in failures:
                self._emit(EventKind.CHECK_FAILED, f"{key} check {check['name']} failed "
                           f"({check['severity']}): {check['message']}", key=key,
                           step_id=result.step_id, level=Level.WARNING,
                           data={"check": check["name"], "severity": check["severity"]})
        if not failures:
            return False
        message = failure_text(failures, key.asset)
        self.outcomes[key] = StepOutcome(key, StepStatus.FAILED, message,
                                         duration_ms=result.duration_ms, step_id=result.step_id,
                                         rows=result.rows, error_code="check_failed",
                                         hint="Fix the data (or the check), then materialize "
                                              "again: the value is not current until its "
                                              "blocking checks pass.")
        self._emit(EventKind.STEP_FAILED, f"{key} {message}", key=key, step_id=result.step_id,
                   level=Level.ERROR, data={"error_code": "check_failed",
                                            "checks": [f["name"] for f in failures]})
        if self.settings.fail_fast:
            self._stop_scheduling = True
        self._skip_downstream(key, f"upstream {key} failed blocking check "
                              + ", ".join(f["name"] for f in failures))
        return True

    def _await_approval(self, key: StepKey, result: StepResult) -> None:
        spec = self.definitions.assets[key.asset]
        assert isinstance(spec, CheckpointSpec)
        request = new_request(spec, key, self.run_id, result, utc(result.ended_at),
                              self.settings.backfill_id)
        self.recorder.checkpoint(request)
        reason = reason_for(request)
        self.outcomes[key] = StepOutcome(key, StepStatus.WAITING_APPROVAL, reason,
                                         duration_ms=result.duration_ms,
                                         step_id=result.step_id)
        self._emit(EventKind.STEP_WAITING, f"{key} needs approval: flowstone approve "
                   f"{request.request_id}", key=key, step_id=result.step_id,
                   level=Level.WARNING, data={"request_id": request.request_id})
        self._skip_downstream(key, reason)

    def _finish_failed(self, key: StepKey, step_id: str, attempt: int, started: float,
                       code: str, message: str, hint: str) -> None:
        now = self.clock()
        self.recorder.step(StepRecord(
            step_id=step_id, run_id=self.run_id, asset=key.asset, partition=key.partition,
            attempt=attempt, status=StepStatus.FAILED, reason=self.plan.get(key).reason,
            started_at=utc(started), ended_at=utc(now), duration_ms=(now - started) * 1000,
            code_version=self.definitions.assets[key.asset].code_version, error_code=code,
            error_message=message))
        self.outcomes[key] = StepOutcome(key, StepStatus.FAILED, message, step_id=step_id,
                                         error_code=code, hint=hint)
        self._emit(EventKind.STEP_FAILED, f"{key} failed: {message}", key=key, step_id=step_id,
                   level=Level.ERROR, data={"error_code": code})
        if self.settings.fail_fast:
            self._stop_scheduling = True
        self._skip_downstream(key, f"upstream {key} failed")

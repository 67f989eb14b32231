"""Runs as OpenTelemetry traces: exported at the end of a run when an endpoint is configured, and
on demand (`flowstone runs export-otel`). Built from the records, so re-exporting a run sends the
same trace and span ids (see `integrations/traces.py`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api.wiring import open_store
from flowstone_cli.errors import (
    MissingExtraError,
    FlowStoneError,
    NotFoundError,
    TelemetryExportError,
)
from flowstone_cli.integrations.traces import (
    RunTrace,
    SpanEvent,
    TraceSpan,
    span_id_for,
    trace_id_for,
)
from flowstone_cli.metadata.statuses import StepStatus
from flowstone_cli.metadata.store import MetadataStore, StoreReader
from flowstone_cli.project.loader import Project

_ERRORS = {StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.ABANDONED}
_log = logging.getLogger("flowstone.telemetry")


@dataclass(frozen=True)
class TelemetrySettings:
    """Where traces go: the OTLP/HTTP traces URL and its headers."""

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 5.0
    service_name: str = "flowstone"


def _traces_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def settings_for(project: Project, env: Mapping[str, str],
                 endpoint: str | None = None) -> TelemetrySettings | None:
    """The export settings: `endpoint`, else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
    `OTEL_EXPORTER_OTLP_ENDPOINT` (+ `/v1/traces`), else `[telemetry] endpoint`; None when
    none is set. Headers: `[telemetry] headers`, then `OTEL_EXPORTER_OTLP_HEADERS`."""
    section = project.config.telemetry
    url = endpoint or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not url:
        base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or section.endpoint
        url = _traces_url(base) if base else None
    elif endpoint:
        url = _traces_url(endpoint)
    if not url:
        return None
    headers = dict(section.headers)
    for item in env.get("OTEL_EXPORTER_OTLP_HEADERS", "").split(","):
        key, eq, value = item.partition("=")
        if eq and key.strip():
            headers[key.strip()] = value.strip()
    service = env.get("OTEL_SERVICE_NAME") or section.service_name or f"flowstone:{project.name}"
    return TelemetrySettings(url, headers, section.timeout, service)


def _utc(value: datetime | None) -> datetime:
    return value or datetime.now(timezone.utc)


def trace_of(reader: StoreReader, run_id: str) -> RunTrace:
    """One run as a trace: a root span, a span per step attempt (check results as events) and
    a span per checkpoint wait the run caused."""
    run = reader.get_run(run_id)
    trace_id = trace_id_for(run.run_id)
    root_id = span_id_for("run", run.run_id)
    failed = run.status.value in ("failed", "crashed")
    spans = [TraceSpan(
        name=f"flowstone run {run.selection or run.run_id}", span_id=root_id, parent_id=None,
        start=_utc(run.started_at), end=_utc(run.ended_at or run.heartbeat_at),
        error=f"run {run.status.value}" if failed else None,
        attributes={"flowstone.run_id": run.run_id, "flowstone.status": run.status.value,
                    "flowstone.trigger": run.trigger, "flowstone.actor": run.actor,
                    "flowstone.selection": run.selection, "host.name": run.host,
                    "process.pid": run.pid, "flowstone.backfill_id": run.backfill_id,
                    "flowstone.parent_run_id": run.parent_run_id})]
    checks: dict[str, list[Any]] = {}
    for check in reader.checks_for_runs([run.run_id]):
        checks.setdefault(check.materialization, []).append(check)
    for step in reader.steps_for_run(run.run_id):
        if step.attempt < 1 or step.started_at is None:
            continue  # skipped and up-to-date rows are not attempts
        events = tuple(SpanEvent(f"check {c.check_name}", _utc(c.executed_at), {
            "flowstone.check": c.check_name, "flowstone.check.passed": c.passed,
            "flowstone.check.severity": c.severity, "flowstone.check.blocking": c.blocking,
            "flowstone.check.message": c.message}) for c in checks.get(step.step_id, ()))
        label = step.asset if step.partition is None else f"{step.asset}[{step.partition}]"
        spans.append(TraceSpan(
            name=label, span_id=span_id_for("step", step.step_id), parent_id=root_id,
            start=step.started_at, end=_utc(step.ended_at),
            error=(step.error_message or step.status.value) if step.status in _ERRORS
            else None, events=events,
            attributes={"flowstone.asset": step.asset, "flowstone.partition": step.partition,
                        "flowstone.attempt": step.attempt, "flowstone.status": step.status.value,
                        "flowstone.reason": step.reason, "flowstone.rows": step.rows,
                        "flowstone.size_bytes": step.size_bytes,
                        "flowstone.data_version": step.data_version,
                        "flowstone.io_manager": step.io_manager,
                        "flowstone.error_code": step.error_code,
                        "flowstone.worker": f"{step.host}:{step.pid}" if step.host else None,
                        "flowstone.step_id": step.step_id}))
    for request in reader.list_checkpoints(run_id=run.run_id, limit=100_000):
        label = request.checkpoint + (f"[{request.partition}]" if request.partition else "")
        spans.append(TraceSpan(
            name=f"checkpoint wait {label}", span_id=span_id_for("checkpoint",
                                                                  request.request_id),
            parent_id=root_id, start=_utc(request.requested_at),
            end=_utc(request.decided_at),
            attributes={"flowstone.checkpoint": request.checkpoint,
                        "flowstone.partition": request.partition,
                        "flowstone.request_id": request.request_id,
                        "flowstone.decision": request.status.value,
                        "flowstone.decided_by": request.decided_by,
                        "flowstone.reason": request.reason}))
    return RunTrace(run.run_id, trace_id, tuple(spans))


def _otel() -> Any:
    try:
        from flowstone_cli.integrations import otel
    except ImportError as exc:
        raise MissingExtraError.for_extra("otel", "exporting traces") from exc
    return otel


def export_runs(project: Project, settings: TelemetrySettings, *,
                run_ids: Sequence[str] = (), since: datetime | None = None) -> Any:
    """Export the named runs (or every run started since `since`) and return what was sent.

    Raises:
        MissingExtraError: the `otel` extra is not installed (exit 2).
        NotFoundError: a run id is unknown, or no run matches.
        TelemetryExportError: the collector did not take the traces (exit 1).
    """
    otel = _otel()
    store = open_store(project)
    if not store.exists():
        raise NotFoundError("no runs recorded yet", hint="Run `flowstone materialize` first.")
    with store.reader() as reader:
        ids = [reader.get_run(r).run_id for r in run_ids]
        if since is not None:
            ids += [r.run_id for r in reader.list_runs(limit=1_000_000)
                    if r.started_at is not None and r.started_at >= since]
        if not ids:
            raise NotFoundError("no run to export", hint="Give a RUN_ID or an earlier --since.")
        traces = [trace_of(reader, run_id) for run_id in dict.fromkeys(ids)]
    result = otel.export(traces, endpoint=settings.endpoint, headers=settings.headers,
                         timeout=settings.timeout, service_name=settings.service_name,
                         project=project.name)
    if not result.ok:
        raise TelemetryExportError(
            f"the collector at {settings.endpoint} did not accept the traces"
            + (f" ({result.problem})" if result.problem else ""),
            hint="Check that the OTLP/HTTP endpoint is reachable (--endpoint, "
                 "OTEL_EXPORTER_OTLP_ENDPOINT or [telemetry] endpoint).")
    return result


def export_after_run(project: Project, store: MetadataStore, run_id: str) -> None:
    """Export a finished run when an endpoint is configured; a problem is only a warning."""
    settings = settings_for(project, os.environ)
    if settings is None:
        return
    try:
        otel = _otel()
        with store.reader() as reader:
            trace = trace_of(reader, run_id)
        result = otel.export([trace], endpoint=settings.endpoint, headers=settings.headers,
                             timeout=settings.timeout, service_name=settings.service_name,
                             project=project.name)
        if not result.ok:
            _log.warning("traces of run %s were not exported: the collector at %s did not "
                         "accept them (%s)", run_id, settings.endpoint, result.problem)
    except FlowStoneError as exc:
        _log.warning("traces of run %s were not exported: %s%s", run_id, exc.message,
                     f" ({exc.hint})" if exc.hint else "")
    except Exception as exc:  # noqa: BLE001 - telemetry must never fail a run
        _log.warning("traces of run %s were not exported: %s: %s", run_id,
                     type(exc).__name__, exc)

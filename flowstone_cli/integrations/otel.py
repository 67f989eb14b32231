"""OpenTelemetry export of run traces over OTLP/HTTP (extra `flowstone-cli[otel]`).

The only module that imports `opentelemetry`. Spans are built after the fact from the records
(`traces.py`) with their recorded start and end times and FlowStone-derived ids, and handed to
the OTLP exporter in one batch.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from flowstone_cli._version import __version__
from flowstone_cli.integrations.traces import RunTrace, TraceSpan


@dataclass(frozen=True)
class ExportResult:
    """What an export sent and whether the collector took it."""

    runs: int
    spans: int
    ok: bool
    problem: str = ""


def _unreachable(endpoint: str, timeout: float) -> str:
    """Why the endpoint's host cannot be reached at all ("" when a connection opens), so a
    collector that is down costs one refused connection, not the exporter's retries."""
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port),
                                      timeout=min(timeout, 2.0)):
            return ""
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    # The exporter logs every retry; FlowStone reports the outcome itself, once.
    logger = logging.getLogger("opentelemetry.exporter.otlp.proto.http")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _context(trace_id: int, span_id: int) -> SpanContext:
    return SpanContext(trace_id=trace_id, span_id=span_id, is_remote=False,
                       trace_flags=TraceFlags(TraceFlags.SAMPLED))


def _span(trace: RunTrace, span: TraceSpan, resource: Resource,
          scope: InstrumentationScope) -> ReadableSpan:
    status = Status(StatusCode.ERROR, span.error) if span.error is not None \
        else Status(StatusCode.OK)
    return ReadableSpan(
        name=span.name, context=_context(trace.trace_id, span.span_id),
        parent=_context(trace.trace_id, span.parent_id) if span.parent_id else None,
        resource=resource, attributes={k: v for k, v in span.attributes.items()
                                       if v is not None},
        events=[Event(e.name, {k: v for k, v in e.attributes.items() if v is not None},
                      _ns(e.at)) for e in span.events],
        kind=SpanKind.INTERNAL if span.parent_id else SpanKind.SERVER, status=status,
        start_time=_ns(span.start), end_time=_ns(max(span.end, span.start)),
        instrumentation_scope=scope)


def export(traces: Sequence[RunTrace], *, endpoint: str, headers: Mapping[str, str],
           timeout: float, service_name: str, project: str) -> ExportResult:
    """Send the traces to the OTLP/HTTP endpoint (`.../v1/traces`) in one request."""
    resource = Resource.create({"service.name": service_name, "flowstone.project": project})
    scope = InstrumentationScope("flowstone", __version__)
    spans = [_span(t, s, resource, scope) for t in traces for s in t.spans]
    problem = _unreachable(endpoint, timeout)
    if problem:
        return ExportResult(len(traces), len(spans), False, problem)
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers), timeout=timeout)
    try:
        with _quiet_exporter():
            result = exporter.export(spans) if spans else SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    ok = result is SpanExportResult.SUCCESS
    return ExportResult(len(traces), len(spans), ok, "" if ok else "the export was refused")

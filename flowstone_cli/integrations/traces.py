"""Runs as traces, in plain data: what `otel.py` exports. No OpenTelemetry import here.

Ids are derived from FlowStone's own ids, so exporting a run again yields the same trace and
span ids and a collector never counts it twice: the trace id is the first 16 bytes of
sha256(run id), the run's root span id the first 8 bytes of sha256("run:" + run id), a step
attempt's span id is its step id (64 random bits, hex), and other spans hash their record id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _hash_int(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:size], "big")
    return value or 1  # zero is the invalid id


def trace_id_for(run_id: str) -> int:
    """The 128-bit trace id of a run."""
    return _hash_int(run_id, 16)


def span_id_for(kind: str, record_id: str) -> int:
    """A 64-bit span id: a step id as it is, anything else hashed with its kind."""
    if kind == "step":
        try:
            return int(record_id, 16) or 1
        except ValueError:
            pass
    return _hash_int(f"{kind}:{record_id}", 8)


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened during a span (a check result)."""

    name: str
    at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TraceSpan:
    """One span: the run, a step attempt or a checkpoint wait."""

    name: str
    span_id: int
    parent_id: int | None
    start: datetime
    end: datetime
    error: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()


@dataclass(frozen=True)
class RunTrace:
    """A run as one trace: its root span first."""

    run_id: str
    trace_id: int
    spans: tuple[TraceSpan, ...]

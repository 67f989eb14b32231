"""What an HTTP API resource records about its calls, for the step's metadata.

Each call (all its attempts) becomes one record: method, path (never the query string, which
may hold a key), final status, latency, retries, time spent waiting for the rate limit, and the
numbers of the JSON response's `usage` object (tokens, cost) when it has one. The runner
drains the records after each step and stores their summary under `api_calls`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_LOGGED_CALLS = 50


def usage_of(body: bytes) -> dict[str, float]:
    """The numeric fields of a JSON response's top-level `usage` object (else empty)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return {}
    return {str(k): v for k, v in usage.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


@dataclass
class CallLog:
    """The calls made since the last drain (one step's worth in a worker process)."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *, method: str, path: str, status: int | None, latency_ms: float,
            retries: int, rate_wait_s: float, usage: dict[str, float],
            error: str | None = None) -> None:
        """Record one call (with all its attempts)."""
        record: dict[str, Any] = {"method": method, "path": path, "status": status,
                                  "latency_ms": round(latency_ms, 2), "retries": retries,
                                  "rate_wait_s": round(rate_wait_s, 4)}
        if usage:
            record["usage"] = usage
        if error:
            record["error"] = error
        self.calls.append(record)

    def drain(self) -> dict[str, Any] | None:
        """A summary of the recorded calls (None when there were none); starts afresh."""
        calls, self.calls = self.calls, []
        if not calls:
            return None
        usage: dict[str, float] = {}
        for call in calls:
            for key, value in call.get("usage", {}).items():
                usage[key] = usage.get(key, 0) + value
        latencies = [c["latency_ms"] for c in calls]
        summary: dict[str, Any] = {
            "calls": len(calls),
            "retries": sum(c["retries"] for c in calls),
            "failed": sum(1 for c in calls if c["status"] is None or c["status"] >= 400),
            "latency_ms_total": round(sum(latencies), 2),
            "latency_ms_max": max(latencies),
            "rate_wait_s": round(sum(c["rate_wait_s"] for c in calls), 4),
            "log": calls[:MAX_LOGGED_CALLS],
        }
        if usage:
            summary["usage"] = {k: round(v, 6) for k, v in usage.items()}
        if len(calls) > MAX_LOGGED_CALLS:
            summary["log_truncated"] = len(calls) - MAX_LOGGED_CALLS
        return summary

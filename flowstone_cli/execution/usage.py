"""Per-step usage of rate-limited things, gathered into the step's metadata.

A resource value may offer `flowstone_step_metadata()` (the `http_api` client does: its calls'
latency, retries and usage since the last step); `[limits.*]` used through
`context.rate_limit` report how often they were used and how long the step waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowstone_cli.resources.base import ResourceSet
from flowstone_cli.resources.rate_limiter import NamedLimits


def usage_metadata(resources: ResourceSet, limits: NamedLimits | None,
                   requires: Iterable[str]) -> dict[str, Any]:
    """`{"api_calls": {resource: summary}, "rate_limits": {limit: usage}}`, each key present
    only when something was used during the step just run."""
    metadata: dict[str, Any] = {}
    live = resources.live()
    calls: dict[str, Any] = {}
    for name in requires:
        drain = getattr(live.get(name), "flowstone_step_metadata", None)
        if callable(drain):
            summary = drain()
            if summary:
                calls[name] = summary
    if calls:
        metadata["api_calls"] = calls
    if limits is not None:
        used = limits.drain()
        if used:
            metadata["rate_limits"] = used
    return metadata

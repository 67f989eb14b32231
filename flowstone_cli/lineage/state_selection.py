"""State selection terms answered from the metadata store: `status:stale`, `status:failed`,
`status:never`, `modified` (see `planning/selection.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.lineage.status import stale_steps
from flowstone_cli.metadata.statuses import StepStatus
from flowstone_cli.metadata.store import StoreReader
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.planning.selection import Selection

_FAILED = {StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.ABANDONED}


def state_lookup(definitions: Definitions, reader: StoreReader | None, *,
                 now: datetime) -> Callable[[str], set[str]]:
    """A lookup for `select(..., state=...)` over one open session (None: nothing recorded).
    Each term is computed once, on first use."""
    cache: dict[str, set[str]] = {}
    everything = set(definitions.assets)

    def compute(term: str) -> set[str]:
        if reader is None:
            return set() if term == "status:failed" else set(everything)
        if term == "status:never":
            return everything - {a for a, _ in reader.latest_materializations(None)}
        if term == "status:failed":
            return {a for (a, _), step in reader.latest_attempts(None).items()
                    if step.status in _FAILED and a in everything}
        if term == "modified":
            latest = reader.latest_materializations(None)
            seen: set[str] = set()
            changed: set[str] = set()
            for (asset, _), step in latest.items():
                if asset not in everything:
                    continue
                seen.add(asset)
                if step.code_version != definitions.assets[asset].code_version:
                    changed.add(asset)
            return changed | (everything - seen)
        if term == "status:stale":
            every = Selection(assets=definitions.order,
                              reasons={n: "selected" for n in definitions.order})
            report = stale_steps(definitions, every, PartitionRequest(), reader, now=now)
            return {s.asset for s in report.stale}
        raise ValueError(f"unknown state term {term!r}")

    def lookup(term: str) -> set[str]:
        if term not in cache:
            cache[term] = compute(term)
        return cache[term]

    return lookup

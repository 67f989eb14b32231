"""The answers of `lineage upstream|downstream|impact`: frozen records with stable JSON forms.

The JSON shapes are a documented interface (docs/lineage.md): fields are only ever added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowstone_cli.metadata.records import StepRecord
from flowstone_cli.planning.plan import StepKey


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Materialization:
    """One recorded materialization (a succeeded step) of an asset partition.

    Attributes:
        step_id: the materialization id.
        run_id: the run that made it.
        time: when it ended (UTC).
        data_version: content hash of the stored value.
        code_version: version of the code that produced it.
        current: it is still the latest materialization of its partition (not superseded).
        wiped: `flowstone wipe` deleted its value.
    """

    step_id: str
    run_id: str | None
    time: datetime | None
    data_version: str | None
    code_version: str | None
    current: bool
    wiped: bool

    @classmethod
    def of(cls, record: StepRecord, *, current: bool) -> Materialization:
        """The materialization recorded by a (narrow) step record."""
        return cls(record.step_id, record.run_id, record.ended_at, record.data_version,
                   record.code_version, current, record.wiped)

    def to_dict(self) -> dict[str, Any]:
        """The fields shared by every entry's JSON form."""
        return {"step_id": self.step_id, "run_id": self.run_id, "time": _iso(self.time),
                "data_version": self.data_version, "code_version": self.code_version,
                "current": self.current, "wiped": self.wiped}


_EMPTY = {"step_id": None, "run_id": None, "time": None, "data_version": None,
          "code_version": None, "current": False, "wiped": False}


@dataclass(frozen=True)
class LineageEntry:
    """One asset partition in a lineage answer.

    Attributes:
        key: the asset partition.
        depth: edges from the asked-about partition (1 = direct).
        recorded: True when the lineage table says this materialization was read (or read
            it); False when only the definitions say so.
        materialization: the recorded materialization; for an entry that is not recorded, the
            current materialization of the partition (None when it has none).
        via: the entries one step closer to the asked-about partition that lead here.
    """

    key: StepKey
    depth: int
    recorded: bool
    materialization: Materialization | None
    via: tuple[StepKey, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form: asset, partition, depth, recorded, materialization fields, via."""
        data: dict[str, Any] = {"asset": self.key.asset, "partition": self.key.partition,
                                "depth": self.depth, "recorded": self.recorded}
        data.update(self.materialization.to_dict() if self.materialization else _EMPTY)
        data["via"] = [str(k) for k in self.via]
        return data


def _head(key: StepKey, materialization: Materialization | None) -> dict[str, Any]:
    return {"asset": key.asset, "partition": key.partition,
            "materialization": materialization.to_dict() if materialization else None}


@dataclass(frozen=True)
class UpstreamAnswer:
    """`lineage upstream`: what a partition's latest materialization read, transitively.

    Attributes:
        key: the asked-about partition.
        materialization: its latest materialization, None if it was never materialized.
        recorded: True when the entries come from recorded lineage.
        entries: upstream partitions, nearest first.
    """

    key: StepKey
    materialization: Materialization | None
    recorded: bool
    entries: tuple[LineageEntry, ...]
    checkpoints: tuple[dict[str, Any], ...] = ()
    checks: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form."""
        return {**_head(self.key, self.materialization), "recorded": self.recorded,
                "entries": [e.to_dict() for e in self.entries],
                "checkpoints": list(self.checkpoints), "checks": list(self.checks)}


@dataclass(frozen=True)
class DownstreamAnswer:
    """`lineage downstream`: recorded consumers and the partitions the definitions say read it.

    Attributes:
        key: the asked-about partition.
        materialization: its latest materialization, if any.
        recorded: materializations that read any materialization of it, transitively.
        expected: partitions that read it according to the definitions and mappings.
    """

    key: StepKey
    materialization: Materialization | None
    recorded: tuple[LineageEntry, ...]
    expected: tuple[LineageEntry, ...]
    checkpoints: tuple[dict[str, Any], ...] = ()
    checks: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form."""
        return {**_head(self.key, self.materialization),
                "recorded": [e.to_dict() for e in self.recorded],
                "expected": [e.to_dict() for e in self.expected],
                "checkpoints": list(self.checkpoints), "checks": list(self.checks)}


@dataclass(frozen=True)
class ImpactAnswer:
    """`lineage impact`: what becomes stale if a partition changes now.

    Attributes:
        key: the partition that would change.
        materialization: its latest materialization, if any.
        impacted: downstream partitions that have a current materialization (it would become
            stale), nearest first; `recorded` says whether that materialization is recorded as
            having read the changed partition (through any of its materializations).
        missing: asset -> downstream partitions that were never materialized (already stale).
    """

    key: StepKey
    materialization: Materialization | None
    impacted: tuple[LineageEntry, ...]
    missing: Mapping[str, int]
    checkpoints: tuple[dict[str, Any], ...] = ()
    checks: tuple[dict[str, Any], ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        """Impacted partitions per asset, in the order the assets first appear."""
        counts: dict[str, int] = {}
        for entry in self.impacted:
            counts[entry.key.asset] = counts.get(entry.key.asset, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (see docs/lineage.md)."""
        return {**_head(self.key, self.materialization),
                "checkpoints": list(self.checkpoints), "checks": list(self.checks),
                "impacted": [e.to_dict() for e in self.impacted],
                "counts": self.counts, "total": len(self.impacted),
                "not_materialized": dict(self.missing)}


def ordered(entries: Iterable[LineageEntry]) -> tuple[LineageEntry, ...]:
    """Entries nearest first, then by asset and partition, for stable output."""
    return tuple(sorted(entries, key=lambda e: (e.depth, e.key.asset, e.key.partition or "")))

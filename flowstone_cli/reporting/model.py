"""The `Report`: what `flowstone report` exports, gathered from the metadata store.

Its JSON form is versioned (`report_version`) and described by `docs/report.schema.json`;
fields are only ever added within a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flowstone_cli.definitions.definitions import Definitions
from flowstone_cli.metadata.lineage_queries import AssetSummary
from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.metadata.checkpoints import CheckpointRequest
from flowstone_cli.metadata.checks import CheckRecord
from flowstone_cli.metadata.records import LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.statuses import StepStatus
from flowstone_cli.planning.selection import Selection

if TYPE_CHECKING:
    from flowstone_cli.metadata.store import StoreReader

REPORT_VERSION = 1
REPORT_FORMATS = ("md", "html", "json", "csv")


class AssetStatus(StrEnum):
    """An asset's state in a report, from the latest attempt of each of its partitions."""

    MATERIALIZED = "materialized"
    FAILED = "failed"
    WIPED = "wiped"
    NEVER = "never materialized"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class AssetRow:
    """One selected asset: its definition and how its partitions stand.

    Attributes:
        name, group, partitions, code_version, upstream: from the definitions.
        summary: counts of partitions materialized, failed and wiped (latest attempt each).
    """

    name: str
    group: str
    partitions: str | None
    code_version: str
    upstream: tuple[str, ...]
    summary: AssetSummary
    strip: tuple[tuple[str, str], ...] | None = None  # (key, state) of every partition so far

    @property
    def partition_counts(self) -> dict[str, int] | None:
        """Of a partitioned asset, how many partitions so far are materialized, failed, missing."""
        if self.strip is None:
            return None
        counts = {"materialized": 0, "failed": 0, "missing": 0}
        for _, state in self.strip:
            counts[state] += 1
        return counts

    @property
    def status(self) -> AssetStatus:
        """Failed if any partition's latest attempt failed, else materialized, else wiped."""
        if self.summary.failed:
            return AssetStatus.FAILED
        if self.summary.materialized:
            return AssetStatus.MATERIALIZED
        return AssetStatus.WIPED if self.summary.wiped else AssetStatus.NEVER

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "group": self.group, "partitions": self.partitions,
                "code_version": self.code_version, "upstream": list(self.upstream),
                "status": self.status.value,
                "partitions_materialized": self.summary.materialized,
                "partitions_failed": self.summary.failed,
                "partitions_wiped": self.summary.wiped,
                "last_materialized_at": _iso(self.summary.last_materialized_at),
                "partition_counts": self.partition_counts}


_FAILED = {StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.ABANDONED}


def partition_strips(definitions: Definitions, assets: tuple[str, ...],
                     reader: StoreReader | None, now: datetime
                     ) -> dict[str, tuple[tuple[str, str], ...]]:
    """For each partitioned asset, every partition so far (in key order) with its state:
    `materialized`, `failed` (its latest attempt failed) or `missing`, so gaps show."""
    partitioned = [a for a in assets if definitions.assets[a].partitions is not None]
    if not partitioned:
        return {}
    latest = reader.latest_materializations(partitioned) if reader else {}
    attempts = reader.latest_attempts(partitioned) if reader else {}
    dynamic = reader.dynamic_keys() if reader else {}
    strips = {}
    for name in partitioned:
        keys = definitions.assets[name].partitions.keys(now=now, dynamic_keys=dynamic)
        states = []
        for key in keys:
            attempt, done = attempts.get((name, key)), latest.get((name, key))
            if attempt is not None and attempt.status in _FAILED and (
                    done is None or attempt.step_id != done.step_id):
                states.append((key, "failed"))
            else:
                states.append((key, "materialized" if done is not None else "missing"))
        strips[name] = tuple(states)
    return strips


def step_dict(step: StepRecord, inputs: tuple[LineageRecord, ...]) -> dict[str, Any]:
    """JSON form of one attempt in the history, with the inputs it read."""
    return {"step_id": step.step_id, "run_id": step.run_id, "asset": step.asset,
            "partition": step.partition, "attempt": step.attempt, "status": step.status.value,
            "reason": step.reason, "started_at": _iso(step.started_at),
            "ended_at": _iso(step.ended_at), "duration_ms": step.duration_ms,
            "code_version": step.code_version, "data_version": step.data_version,
            "rows": step.rows, "size_bytes": step.size_bytes, "uri": step.uri,
            "io_manager": step.io_manager, "wiped": step.wiped, "error_code": step.error_code,
            "error_message": step.error_message, "metadata": dict(step.metadata),
            "inputs": [{"asset": r.upstream_asset, "partition": r.upstream_partition,
                        "step_id": r.upstream_step_id, "data_version": r.upstream_data_version}
                       for r in inputs]}


def run_dict(run: RunRecord) -> dict[str, Any]:
    """JSON form of one run of the audit trail."""
    return {"run_id": run.run_id, "status": run.status.value, "trigger": run.trigger,
            "selection": run.selection, "command": run.command, "actor": run.actor,
            "host": run.host, "pid": run.pid, "flowstone_version": run.flowstone_version,
            "started_at": _iso(run.started_at), "ended_at": _iso(run.ended_at),
            "backfill_id": run.backfill_id, "parent_run_id": run.parent_run_id,
            "tags": dict(run.tags)}


@dataclass(frozen=True)
class Report:
    """Materialization history, lineage and audit trail of a selection.

    Attributes:
        project: the project's name.
        generated_at: when the report was made (UTC).
        flowstone_version: the FlowStone that made it.
        schema_version: the metadata store's schema version.
        selection: the selection terms.
        since: only attempts that ended at or after this time (None: all).
        assets: the selected assets in dependency order.
        history: every finished attempt of those assets since `since`, oldest first.
        inputs: step id -> the materializations it read.
        runs: the runs of those attempts (who, where, which command), oldest first.
        approvals: checkpoint requests and decisions of the selected checkpoints (who, when,
            why, patch, value hashes), oldest first.
        checks: asset check results on the attempts in `history`, oldest first.
    """

    project: str
    generated_at: datetime
    flowstone_version: str
    schema_version: int
    selection: tuple[str, ...]
    since: datetime | None
    assets: tuple[AssetRow, ...]
    history: tuple[StepRecord, ...]
    inputs: Mapping[str, tuple[LineageRecord, ...]]
    runs: tuple[RunRecord, ...]
    approvals: tuple[CheckpointRequest, ...] = ()
    checks: tuple[CheckRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form described by docs/report.schema.json."""
        return {"report_version": REPORT_VERSION, "project": self.project,
                "generated_at": _iso(self.generated_at),
                "flowstone_version": self.flowstone_version,
                "schema_version": self.schema_version, "selection": list(self.selection),
                "since": _iso(self.since), "assets": [a.to_dict() for a in self.assets],
                "runs": [run_dict(r) for r in self.runs],
                "history": [step_dict(s, self.inputs.get(s.step_id, ())) for s in self.history],
                "approvals": [a.to_dict() for a in self.approvals],
                "checks": [c.to_dict() for c in self.checks]}


def build_report(definitions: Definitions, chosen: Selection, reader: StoreReader | None, *,
                 project: str, flowstone_version: str, schema_version: int,
                 selection: tuple[str, ...], since: datetime | None,
                 now: datetime) -> Report:
    """Gather the report of `chosen` from an open session (None: nothing recorded yet)."""
    assets = chosen.assets
    summaries = reader.asset_summary(assets) if reader else {}
    history = reader.step_history(assets, since) if reader else []
    grouped: dict[str, list[LineageRecord]] = {}
    if reader is not None:
        succeeded = [s.step_id for s in history if s.status is StepStatus.SUCCEEDED]
        for row in reader.lineage_of(succeeded):
            grouped.setdefault(row.step_id, []).append(row)
    runs = reader.runs_by_id({s.run_id for s in history}) if reader else []
    strips = partition_strips(definitions, assets, reader, now)
    rows = []
    for name in assets:
        spec = definitions.assets[name]
        described = spec.partitions.describe() if spec.partitions is not None else None
        rows.append(AssetRow(name, spec.group, described, spec.code_version, spec.upstream,
                             summaries.get(name, AssetSummary()), strips.get(name)))
    inputs = {sid: tuple(sorted(rs, key=lambda r: (r.upstream_asset, r.upstream_partition or "")))
              for sid, rs in grouped.items()}
    checkpoints = {n for n in assets if isinstance(definitions.assets[n], CheckpointSpec)}
    approvals: list[CheckpointRequest] = []
    if reader is not None and checkpoints:
        approvals = [r for r in reader.list_checkpoints(limit=1_000_000)
                     if r.checkpoint in checkpoints
                     and (since is None or (r.requested_at and r.requested_at >= since))]
        approvals.sort(key=lambda r: r.requested_at or now)
    checks: list[CheckRecord] = []
    if reader is not None and any(definitions.checks_of(n) for n in assets):
        checks = reader.checks_for_runs({s.run_id for s in history})
        checks.sort(key=lambda c: (c.executed_at or now, c.asset, c.check_name))
    return Report(project, now, flowstone_version, schema_version, selection, since,
                  tuple(rows), tuple(history), inputs, tuple(runs), tuple(approvals),
                  tuple(checks))

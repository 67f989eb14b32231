"""Asset checks as users reach them: `checks list|show` and `check-assets` (re-run checks on
stored values without recomputing them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flowstone_cli.api.wiring import build_runtime, open_store
from flowstone_cli.definitions.checks import AssetCheckSpec
from flowstone_cli.definitions.context import AssetContext, Resources, StepLog
from flowstone_cli.errors import FlowStoneError, NotFoundError
from flowstone_cli.execution.check_runner import check_records, run_checks
from flowstone_cli.execution.runtime import partition_info
from flowstone_cli.metadata.checks import CheckRecord
from flowstone_cli.planning.partition_selection import PartitionRequest, partitions_for
from flowstone_cli.api.selecting import select_from
from flowstone_cli.planning.selection import select
from flowstone_cli.project.loader import Project


@dataclass(frozen=True)
class CheckSummary:
    """A declared check and its newest verdicts on the asset's current values."""

    spec: AssetCheckSpec
    passed: int = 0
    failed: int = 0
    last: CheckRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        spec = self.spec
        return {"check": spec.full_name, "asset": spec.asset, "name": spec.name,
                "kind": spec.kind, "blocking": spec.blocking, "severity": spec.severity.value,
                "description": spec.description, "arguments": dict(spec.arguments),
                "location": spec.location, "passed": self.passed, "failed": self.failed,
                "last": self.last.to_dict() if self.last else None}


def current_verdicts(project: Project, assets: Sequence[str]) -> list[CheckRecord]:
    """The newest result of each check on the assets' current values (every partition)."""
    store = open_store(project)
    if not store.exists() or not assets:
        return []
    with store.reader() as reader:
        latest = reader.latest_materializations(sorted(assets))
        return reader.check_verdicts([r.step_id for r in latest.values()])


def list_checks(project: Project) -> list[CheckSummary]:
    """Every declared check with the newest verdicts on its asset's current values."""
    checks = project.definitions.all_checks
    verdicts = current_verdicts(project, sorted({c.asset for c in checks}))
    summaries = []
    for spec in checks:
        mine = [v for v in verdicts if v.asset == spec.asset and v.check_name == spec.name]
        last = max(mine, key=lambda v: v.executed_at or datetime.min.replace(
            tzinfo=timezone.utc), default=None)
        summaries.append(CheckSummary(spec, sum(v.passed for v in mine),
                                      sum(not v.passed for v in mine), last))
    return summaries


def find_check(project: Project, name: str) -> AssetCheckSpec:
    """The check named `asset.check` (or a check name unique in the project).

    Raises:
        NotFoundError: no such check, or the short name is ambiguous.
    """
    checks = project.definitions.all_checks
    found = [c for c in checks if name in (c.full_name, c.name)]
    if len(found) == 1:
        return found[0]
    if found:
        raise NotFoundError(f"check name `{name}` is ambiguous: "
                            f"{', '.join(c.full_name for c in found)}",
                            hint="Name it as ASSET.CHECK.")
    raise NotFoundError(f"no check named `{name}`",
                        hint="`flowstone checks list` shows the project's checks.")


def check_history(project: Project, name: str, *, limit: int = 50
                  ) -> tuple[AssetCheckSpec, list[CheckRecord]]:
    """A check's definition and its newest results, newest first."""
    spec = find_check(project, name)
    store = open_store(project)
    if not store.exists():
        return spec, []
    with store.reader() as reader:
        return spec, reader.check_history(spec.asset, spec.name, limit=limit)


@dataclass(frozen=True)
class CheckRun:
    """What `check-assets` did: each check's result per stored value, and what it skipped."""

    results: list[CheckRecord] = field(default_factory=list)
    not_materialized: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckRecord]:
        """Results that failed with severity `error`."""
        return [r for r in self.results if not r.passed and r.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"results": [r.to_dict() for r in self.results],
                "not_materialized": self.not_materialized, "errors": self.errors,
                "failed": len(self.failed)}


def check_assets(project: Project, selection: Sequence[str], exclude: Sequence[str] = (), *,
                 partitions: PartitionRequest | None = None) -> CheckRun:
    """Run the checks of the selected assets on their stored current values and record the
    results; nothing is recomputed. Without partitions, every current partition is checked.

    Raises:
        SelectionError: the selection is malformed or matches nothing.
        PartitionError: the partitions do not fit the selected assets.
    """
    definitions = project.definitions
    chosen = [a for a in select_from(project, open_store(project), selection, exclude).assets
              if definitions.checks_of(a)]
    store = open_store(project)
    if not chosen or not store.exists():
        return CheckRun(not_materialized=chosen)
    with store.reader() as reader:
        latest = reader.latest_materializations(chosen)
    wanted: dict[str, set[str | None]] | None = None
    if partitions is not None and not partitions.empty:
        picked = select(definitions, chosen)
        wanted = {a: set(keys) for a, keys in partitions_for(
            definitions, picked, partitions, now=datetime.now(timezone.utc)).items()}
    runtime = build_runtime(project, chosen)
    run = CheckRun()
    rows: list[CheckRecord] = []
    for asset in chosen:
        keys = sorted((p for (a, p) in latest if a == asset), key=lambda k: k or "")
        if wanted is not None:
            missing = sorted(k for k in wanted.get(asset, ()) if (asset, k) not in latest)
            run.not_materialized.extend(f"{asset}[{k}]" for k in missing)
            keys = [k for k in keys if k in wanted.get(asset, ())]
        elif not keys:
            run.not_materialized.append(asset)
        spec = definitions.assets[asset]
        for key in keys:
            record = latest[(asset, key)]
            try:
                value = runtime.manager_for(asset).load(runtime.store_context(asset, key, None))
            except FlowStoneError as exc:
                run.errors.append(f"{asset}{f'[{key}]' if key else ''}: {exc.message}")
                continue
            info = partition_info(spec, key)
            context = AssetContext(asset=asset, partition=key, partition_window=info.window,
                                   partition_keys=dict(info.keys or {}), step_id=record.step_id,
                                   resources=Resources({n: runtime.resources.get(n)
                                                        for n in spec.requires}),
                                   log=StepLog(), code_version=record.code_version or "")
            results = run_checks(definitions.checks_of(asset), value, lambda: context)
            rows.extend(check_records(results, asset=asset, partition=key,
                                      materialization=record.step_id, run_id=None))
    runtime.resources.teardown()
    if rows:
        with store.writer() as writer:
            writer.insert_checks(rows)
    run.results.extend(rows)
    return run

"""What the `flowstone ui` dashboard reads and starts: a cheap change signature of the metadata
store, the state of every asset in one read session, the runs that touched an asset, and
launching runs and approval resumes detached (exactly as `flowstone tick` does).

The change signature is a `stat` of the DuckDB file and its write-ahead log: a committed write
changes one of them, and reading it takes no lock, so a dashboard polling it never delays a run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flowstone_cli.api.approvals import Decision, decide
from flowstone_cli.api.lineage import metadata_store, read_session
from flowstone_cli.automation.launcher import LaunchRequest, launch_detached
from flowstone_cli.errors import UsageError
from flowstone_cli.lineage.status import stale_steps
from flowstone_cli.metadata.ids import new_run_id
from flowstone_cli.metadata.records import RunRecord, StepRecord
from flowstone_cli.metadata.statuses import FINAL_STEP_STATUSES, RunStatus
from flowstone_cli.metadata.store import StoreReader
from flowstone_cli.planning.partition_selection import PartitionRequest
from flowstone_cli.planning.selection import Selection, select, split_terms
from flowstone_cli.project.loader import Project

# Staleness is recomputed at least this often, even while runs go on (a run recorded as running
# whose process died must not freeze it).
MAX_CARRY_SECONDS = 60.0

# Asset states, most urgent first: a node shows the first that applies.
STATES = ("running", "waiting_approval", "failed", "stale", "up_to_date", "never")


def store_signature(project: Project) -> str:
    """A string that changes whenever a write is committed to the metadata store (no lock)."""
    parts = []
    path = Path(project.metadata_path)
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            info = os.stat(candidate)
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{info.st_mtime_ns}:{info.st_size}:{info.st_ino}")
    return "|".join(parts)


@dataclass(frozen=True)
class AssetState:
    """The dashboard's state of one asset: a `STATES` value and a short reason."""

    state: str
    reason: str = ""

    def to_list(self) -> list[str]:
        """Compact JSON form `[state, reason]`."""
        return [self.state, self.reason]


@dataclass(frozen=True)
class DashboardState:
    """Every asset's state and the status of recent runs, read in one session.

    Attributes:
        stale: asset -> staleness reason as last computed (carried over while runs go on).
        checked_at: when staleness was last computed.
        complete: whether staleness was computed by this read (not carried over).
    """

    assets: dict[str, AssetState]
    runs: dict[str, str]
    pending_approvals: int
    stale: dict[str, str] = field(default_factory=dict, compare=False)
    checked_at: datetime | None = field(default=None, compare=False)
    complete: bool = field(default=True, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the live event stream."""
        return {"assets": {k: v.to_list() for k, v in self.assets.items()}, "runs": self.runs,
                "pending_approvals": self.pending_approvals}


def _stale_reasons(project: Project, reader: StoreReader, names: list[str],
                   now: datetime) -> dict[str, str]:
    report = stale_steps(project.definitions,
                         Selection(assets=tuple(names), reasons={n: "selected" for n in names}),
                         PartitionRequest(), reader, now=now)
    counts: dict[str, Counter[str]] = {}
    for step in report.stale:
        counts.setdefault(step.asset, Counter())[step.reason] += 1
    return {asset: (reason if n == 1 else f"{reason} ({n})")
            for asset, found in counts.items() for reason, n in [found.most_common(1)[0]]}


def dashboard_state(project: Project, *, previous: DashboardState | None = None,
                    staleness: bool = True, recent_runs: int = 50) -> DashboardState:
    """The state of every asset (running, waiting for approval, failed, stale with the reason,
    up to date, never materialized) and the status of the newest runs.

    Staleness is the costly part (the plan and decision of `flowstone status` over every
    asset). While a run is going and `previous` is given, it is carried over instead, so the
    read session stays short and never holds up the run's writes: an asset materialized since
    counts as up to date until the next full check, done once no run is going (or after
    `MAX_CARRY_SECONDS`). With
    `staleness=False` it is carried over whenever `previous` is given (a quick read).
    """
    definitions = project.definitions
    names = list(definitions.order)
    now = datetime.now(timezone.utc)
    with read_session(project) as reader:
        if reader is None:
            return DashboardState({n: AssetState("never", "never materialized") for n in names},
                                  {}, 0)
        summaries = reader.asset_summary(names)
        live: dict[str, str] = {}
        running = reader.runs_with_status(RunStatus.RUNNING.value)
        for run in running:
            done = {(s.asset, s.partition) for s in reader.steps_for_run(run.run_id)
                    if s.status in FINAL_STEP_STATUSES}
            for key in reader.planned_steps(run.run_id):
                if (key[0], key[1]) not in done:
                    live.setdefault(key[0], run.run_id)
        pending = reader.list_checkpoints(status="pending", limit=100_000)
        runs = {r.run_id: r.status.value for r in reader.list_runs(limit=recent_runs)}
        carry = (bool(running) or not staleness) and previous is not None \
            and previous.checked_at is not None \
            and (now - previous.checked_at).total_seconds() < MAX_CARRY_SECONDS
        if carry:
            assert previous is not None and previous.checked_at is not None
            checked_at = previous.checked_at
            stale = {a: r for a, r in previous.stale.items()
                     if not (summaries.get(a) and summaries[a].last_materialized_at
                             and summaries[a].last_materialized_at > checked_at)}
        else:
            checked_at = now
            stale = _stale_reasons(project, reader, names, now)
    waiting = Counter(r.checkpoint for r in pending)
    states: dict[str, AssetState] = {}
    for name in names:
        summary = summaries.get(name)
        if name in live:
            states[name] = AssetState("running", f"in run {live[name]}")
        elif waiting.get(name):
            states[name] = AssetState("waiting_approval", f"{waiting[name]} pending request(s)")
        elif summary is not None and summary.failed:
            states[name] = AssetState("failed", f"{summary.failed} partition(s) failed")
        elif summary is None or not summary.materialized:
            states[name] = AssetState("never", "never materialized")
        elif name in stale:
            states[name] = AssetState("stale", stale[name])
        else:
            states[name] = AssetState("up_to_date", "")
    return DashboardState(states, runs, len(pending), stale, checked_at, complete=not carry)


def runs_of_asset(project: Project, asset: str, *, limit: int = 20,
                  status: str | None = None) -> list[RunRecord]:
    """The newest runs that recorded a step of `asset`."""
    project.definitions.get(asset)  # NotFoundError for an unknown asset
    store = metadata_store(project)
    if not store.exists():
        return []
    found: list[RunRecord] = []
    with store.reader() as reader:
        for run in reader.list_runs(limit=max(limit * 20, 200), status=status):
            if any(s.asset == asset for s in reader.steps_for_run(run.run_id)):
                found.append(run)
                if len(found) >= limit:
                    break
    return found


def asset_history(project: Project, asset: str, *, limit: int = 20) -> list[StepRecord]:
    """The newest finished attempts of `asset`, newest first."""
    project.definitions.get(asset)
    with read_session(project) as reader:
        if reader is None:
            return []
        return list(reversed(reader.step_history([asset])))[:limit]


def launch_materialize(project: Project, selection: Sequence[str], *,
                       partitions: Sequence[str] = (), partition_range: str | None = None,
                       actor: str | None = None) -> str:
    """Start `flowstone materialize SELECTION` detached (as `tick` does) and return its run id.

    Raises:
        SelectionError: the selection is malformed or matches nothing.
        UsageError: a malformed partition range.
    """
    terms = split_terms(selection)
    select(project.definitions, terms)
    keys = [k for k in partitions if k]
    if partition_range:
        if ".." not in partition_range:
            raise UsageError(f"partition range {partition_range!r} is not START..END",
                             hint="Write e.g. 2025-01-01..2025-01-31.")
    tags = {"launched_by": actor} if actor else None
    request = LaunchRequest(run_id=new_run_id(), selection=tuple(terms),
                            partitions=tuple(keys), trigger="ui", tags=tags,
                            partition_range=partition_range or None)
    launch_detached(project.root, request)
    return request.run_id


def decide_detached(project: Project, request_id: str, *, approve: bool, by: str | None = None,
                    reason: str | None = None, patch_text: str | None = None
                    ) -> tuple[Decision, str | None]:
    """Approve or reject through the same `decide` as `flowstone approve`, then launch the held
    work as a detached run (like `tick` after a timeout). Returns the decision and the run id.

    Raises:
        UsageError: unknown, expired or already decided request; a bad patch.
    """
    decision = decide(project, request_id, approve=approve, by=by, reason=reason,
                      patch_text=patch_text, resume=False)
    request = decision.request
    store = metadata_store(project)
    with store.reader() as reader:
        run = reader.get_run(request.run_id)
    launch = LaunchRequest(run_id=new_run_id(), selection=tuple(split_terms(
        [run.selection or request.checkpoint])),
        partitions=(request.partition,) if request.partition else (),
        trigger=f"approval:{request.request_id}")
    launch_detached(project.root, launch)
    with store.writer() as writer:
        writer.update_checkpoint(request.request_id, resumed_run_id=launch.run_id)
    return decision, launch.run_id


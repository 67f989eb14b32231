"""Run outcomes: per-step results, the run summary, and the exit code each maps to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowstone_cli.errors import ExitCode
from flowstone_cli.metadata.statuses import RunStatus, StepStatus
from flowstone_cli.planning.plan import Plan, StepKey

INTERRUPTED_EXIT = 130  # conventional for Ctrl-C; documented in docs/cli.md

_FAILED = {StepStatus.FAILED, StepStatus.TIMED_OUT}


@dataclass(frozen=True)
class StepOutcome:
    """How one step of the plan ended."""

    key: StepKey
    status: StepStatus
    reason: str = ""
    duration_ms: float | None = None
    step_id: str | None = None
    rows: int | None = None
    error_code: str | None = None
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"asset": self.key.asset, "partition": self.key.partition,
                "status": self.status.value, "reason": self.reason,
                "duration_ms": None if self.duration_ms is None else round(self.duration_ms, 1),
                "step_id": self.step_id, "rows": self.rows, "error_code": self.error_code}


@dataclass(frozen=True)
class RunSummary:
    """The outcome of a run."""

    run_id: str
    status: RunStatus
    steps: tuple[StepOutcome, ...]
    counts: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0

    @classmethod
    def build(cls, run_id: str, plan: Plan, outcomes: Mapping[StepKey, StepOutcome],
              status: RunStatus, duration_s: float) -> RunSummary:
        """Summarise outcomes in plan order; a run with a failed step is `failed`."""
        steps = tuple(outcomes[s.key] for s in plan.steps if s.key in outcomes)
        counts = dict(Counter(o.status.value for o in steps))
        if status is RunStatus.SUCCEEDED and any(o.status in _FAILED for o in steps):
            status = RunStatus.FAILED
        elif status is RunStatus.SUCCEEDED and any(
                o.status is StepStatus.WAITING_APPROVAL for o in steps):
            status = RunStatus.WAITING_APPROVAL
        return cls(run_id, status, steps, counts, duration_s)

    @property
    def exit_code(self) -> int:
        """0 when every step is done, 1 when a step failed, 130 when canceled."""
        if self.status is RunStatus.CANCELED:
            return INTERRUPTED_EXIT
        if self.status is RunStatus.FAILED:
            return int(ExitCode.STEP_FAILED)
        if self.status is RunStatus.WAITING_APPROVAL:
            return int(ExitCode.WAITING_APPROVAL)
        return int(ExitCode.OK)

    @property
    def failures(self) -> list[StepOutcome]:
        """Steps that failed or timed out."""
        return [o for o in self.steps if o.status in _FAILED]

    def to_record(self) -> dict[str, Any]:
        """What is kept in the run record's `summary` column."""
        return {"counts": self.counts, "duration_s": round(self.duration_s, 3),
                "failed": [str(o.key) for o in self.failures]}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"run_id": self.run_id, "status": self.status.value,
                "duration_s": round(self.duration_s, 3), "counts": self.counts,
                "exit_code": self.exit_code, "steps": [o.to_dict() for o in self.steps]}

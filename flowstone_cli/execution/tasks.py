"""The plain records that cross the process boundary: a step's task and its result.

Both are made of strings, numbers and tuples only, so they always pickle, whatever the user's
code did; an error travels as its type name, message and traceback text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ResultStatus(str, Enum):
    """How a step attempt ended, as the worker saw it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELED = "canceled"
    WAITING_APPROVAL = "waiting_approval"


@dataclass(frozen=True)
class InputRef:
    """One upstream value a step loads (or, with `param=None`, only waits for).

    Attributes:
        param: the function parameter that receives it; None for ordering-only `deps=`.
        asset: upstream asset name.
        partition: upstream partition key, or None.
        keyed: the parameter receives a dict of partition key -> value (several partitions).
        step_id: the materialization being read, if known.
        data_version: its content hash, if known.
    """

    param: str | None
    asset: str
    partition: str | None = None
    keyed: bool = False
    step_id: str | None = None
    data_version: str | None = None


@dataclass(frozen=True)
class StepTask:
    """What a worker needs to run one attempt of one step."""

    step_id: str
    run_id: str
    asset: str
    partition: str | None
    attempt: int
    inputs: tuple[InputRef, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    keyed_params: tuple[str, ...] = ()
    approval: tuple[str, str] | None = None  # (request id, JSON merge patch text) of a checkpoint
    batch: tuple[StepTask, ...] = ()  # a batch task: its members run in one tool invocation
    config: str | None = None  # canonical JSON of the asset's validated run config

    @property
    def label(self) -> str:
        """`asset` or `asset[partition]` (for a batch, every member's label)."""
        if self.batch:
            return ", ".join(member.label for member in self.batch)
        return self.asset if self.partition is None else f"{self.asset}[{self.partition}]"


@dataclass(frozen=True)
class StepError:
    """A failure as plain data.

    Attributes:
        code: FlowStone error code, or `user_error` for the user's own exception.
        type: qualified exception type name.
        message: one line.
        traceback: formatted traceback text.
        retryable: whether the retry policy allows another attempt.
        hint: what to do.
        retry_after: for `RateLimited`, the seconds to wait before the step is re-queued.
    """

    code: str
    type: str
    message: str
    traceback: str = ""
    retryable: bool = False
    hint: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class StepResult:
    """The outcome of one attempt, returned by the worker to the coordinator."""

    step_id: str
    status: ResultStatus
    started_at: float
    ended_at: float
    pid: int
    host: str
    code_version: str = ""
    uri: str | None = None
    io_manager: str | None = None
    size_bytes: int | None = None
    rows: int | None = None
    data_version: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    logs: tuple[tuple[float, str, str], ...] = ()
    error: StepError | None = None
    checks: tuple[dict[str, Any], ...] = ()  # asset check results (see check_runner.py)
    worker: str | None = None  # the executor's worker that ran it (a Dask worker address)
    members: tuple[StepResult, ...] = ()  # a batch task's per-member results

    @property
    def duration_ms(self) -> float:
        """Wall-clock duration of the attempt in milliseconds."""
        return (self.ended_at - self.started_at) * 1000.0

"""Status and level enums of the metadata store: the only values its status columns hold.

A leaf module (standard library only) so every layer can name a status without importing DuckDB.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    """Outcome of one step (asset x partition x attempt).

    A step row whose status is `SUCCEEDED` is a *materialization*; its step id is the
    materialization id.
    """

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UP_TO_DATE = "up_to_date"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    ABANDONED = "abandoned"
    WAITING_APPROVAL = "waiting_approval"


# Statuses that end an attempt at computing a value. RUNNING has not ended; SKIPPED and UP_TO_DATE
# never tried, so they say nothing about the latest attempt of an (asset, partition).
FINAL_STEP_STATUSES: frozenset[StepStatus] = frozenset({
    StepStatus.SUCCEEDED,
    StepStatus.FAILED,
    StepStatus.CANCELED,
    StepStatus.TIMED_OUT,
    StepStatus.ABANDONED,
})


class RunStatus(StrEnum):
    """State of a run; `RUNNING` and `WAITING_APPROVAL` are the unfinished ones."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    CRASHED = "crashed"
    WAITING_APPROVAL = "waiting_approval"


class EventLevel(StrEnum):
    """Severity of a recorded event."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

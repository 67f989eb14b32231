"""Values an asset function may return, and the retry policy it may declare."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowstone_cli.errors import FlowStoneError, UsageError


@dataclass(frozen=True)
class Output:
    """An asset's value together with metadata to record with its materialization.

    Args:
        value: the value the I/O manager stores.
        metadata: JSON-serialisable facts about the value (row counts, quality scores...).
    """

    value: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing step is tried again.

    Args:
        max_attempts: total attempts, including the first (1 means no retry).
        delay: seconds to wait before the second attempt.
        backoff: factor applied to the delay after each further attempt.
        jitter: up to this fraction of the delay is added at random, so retries of many
            steps do not hit a shared system at the same instant.
        retry_on: exception types of the user's code that are retried. FlowStone errors marked
            retryable (transient I/O) are always retried while attempts remain.
    """

    max_attempts: int = 3
    delay: float = 1.0
    backoff: float = 2.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise UsageError(f"RetryPolicy(max_attempts={self.max_attempts!r}) must be an "
                             "integer of at least 1")
        if self.delay < 0 or self.backoff < 1 or not 0 <= self.jitter <= 1:
            raise UsageError("RetryPolicy needs delay >= 0, backoff >= 1 and 0 <= jitter <= 1")
        retry_on = self.retry_on
        if isinstance(retry_on, type):
            retry_on = (retry_on,)
            object.__setattr__(self, "retry_on", retry_on)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in retry_on):
            raise UsageError("RetryPolicy(retry_on=...) takes exception classes")

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2 for the first retry), without jitter."""
        return self.delay * self.backoff ** max(0, attempt - 2)

    def applies_to(self, exc: BaseException) -> bool:
        """Whether `exc`, raised by an attempt, may be retried under this policy.

        FlowStone's own errors carry their retryability (transient I/O is retryable, a corrupt
        input is not); the user's exceptions are retried when they are one of `retry_on`.
        """
        if isinstance(exc, FlowStoneError):
            return exc.retryable
        return isinstance(exc, self.retry_on)

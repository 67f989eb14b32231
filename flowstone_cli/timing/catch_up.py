"""Catch-up policies: which of a schedule's due fire times `flowstone tick` launches now.

`flowstone tick` runs from the system cron once a minute and has no daemon, so after the machine
was off (or tick was not installed) a schedule can have a backlog of fire times. The policy
decides how much of it to launch; everything in the window that is not launched is reported as
*missed*. This module only holds the policy; `flowstone_cli.timing.cron.due_ticks` computes the
window and its fire times and applies it.

The window is `(start, now]`, where `start` is the schedule's last recorded tick (the latest fire
time already launched); for a schedule never ticked it is the time it was first seen, or
`now - grace` when that is unknown, so a new schedule never gets an invented backlog. A fire time
`t` is *on time* when `now - t <= grace` (default two minutes).

| `catch_up`         | launched now                                            | counted as missed |
|--------------------|---------------------------------------------------------|-------------------|
| `latest` (default) | the most recent fire time in the window, even if late   | all the others    |
| `all`              | the most recent `max_catch_up` (default 24), ascending  | the older ones    |
| `none`             | the most recent fire time if it is on time, else none   | all the others    |

Fire times at or before the last tick are never launched again, so calling tick twice with the same
`now` launches nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from flowstone_cli.errors import UsageError


class CatchUp(str, Enum):
    """What a schedule does with fire times that passed while nobody ticked."""

    LATEST = "latest"
    ALL = "all"
    NONE = "none"

    @classmethod
    def parse(cls, value: CatchUp | str) -> CatchUp:
        """The policy named by `value`.

        Raises:
            UsageError: `value` is not one of `latest`, `all`, `none`.
        """
        try:
            return cls(value)
        except ValueError:
            raise UsageError(f"unknown catch_up policy {value!r}",
                             hint="Set catch_up to one of: latest, all, none.") from None


@dataclass(frozen=True)
class DueTicks:
    """The outcome of one tick for one schedule.

    Attributes:
        fire_times: the fire times to launch now, as aware UTC datetimes, ascending.
        missed: fire times in the window that are not launched because of the policy or the cap.
    """

    fire_times: tuple[datetime, ...]
    missed: int


def recent_needed(policy: CatchUp, max_catch_up: int) -> int:
    """How many of the most recent fire times in the window `policy` may launch."""
    return max_catch_up if policy is CatchUp.ALL else 1


def select_due(policy: CatchUp, *, recent: Sequence[datetime], total: int, now: datetime,
               grace: timedelta, max_catch_up: int) -> DueTicks:
    """Apply `policy` to a window (see the module table).

    Args:
        policy: the catch-up policy.
        recent: the most recent fire times in the window, ascending; at least
            `min(total, recent_needed(policy, max_catch_up))` of them.
        total: how many fire times the window holds.
        now: the tick's current time (aware).
        grace: how late a fire time may be and still count as on time.
        max_catch_up: the cap for `all`.

    Returns:
        The fire times to launch and how many others are missed.
    """
    if policy is CatchUp.ALL:
        launch = list(recent[-max_catch_up:])
    elif policy is CatchUp.LATEST:
        launch = list(recent[-1:])
    else:
        launch = [t for t in recent[-1:] if now - t <= grace]
    return DueTicks(fire_times=tuple(launch), missed=total - len(launch))

"""`ScheduleSpec.fire_times` / `next_fire_time`: the public answer to "when does it run?"."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from flowstone_cli import schedule
from flowstone_cli.errors import UsageError

BERLIN = ZoneInfo("Europe/Berlin")
NIGHTLY = schedule(name="nightly", cron="30 2 * * *", target="report", timezone="Europe/Berlin")


def test_fire_times_lists_each_real_instant_in_the_schedule_zone() -> None:
    times = NIGHTLY.fire_times(datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
                               datetime(2026, 10, 26, 12, 0, tzinfo=UTC))
    # 02:30 is repeated on 2026-10-25 (CEST then CET), so it fires twice that day.
    assert [t.astimezone(UTC).isoformat() for t in times] == [
        "2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00", "2026-10-26T01:30:00+00:00"]
    assert all(t.tzinfo == BERLIN for t in times)


def test_a_skipped_wall_time_fires_once_at_the_end_of_the_gap() -> None:
    times = NIGHTLY.fire_times(datetime(2026, 3, 28, 12, 0), datetime(2026, 3, 30, 12, 0))
    assert times == [datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN),
                     datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN)]


def test_naive_times_are_wall_clock_times_of_the_schedule_zone() -> None:
    assert NIGHTLY.fire_times(datetime(2026, 1, 1, 2, 29), datetime(2026, 1, 1, 2, 30)) == [
        datetime(2026, 1, 1, 2, 30, tzinfo=BERLIN)]
    assert NIGHTLY.fire_times(datetime(2026, 1, 1, 2, 30), datetime(2026, 1, 1, 3, 0)) == []


def test_limit_keeps_the_earliest() -> None:
    times = NIGHTLY.fire_times(datetime(2026, 1, 1), datetime(2026, 2, 1), limit=2)
    assert [t.day for t in times] == [1, 2]


def test_next_fire_time_is_strictly_after() -> None:
    assert NIGHTLY.next_fire_time(datetime(2026, 1, 1, 2, 30, tzinfo=BERLIN)) == \
        datetime(2026, 1, 2, 2, 30, tzinfo=BERLIN)
    assert NIGHTLY.next_fire_time() > datetime.now(UTC)


def test_misuse_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="before"):
        NIGHTLY.fire_times(datetime(2026, 2, 1), datetime(2026, 1, 1))
    with pytest.raises(UsageError, match="never|no fire time"):
        schedule(name="never", cron="0 0 31 2 *", target="x").next_fire_time()
    with pytest.raises(UsageError, match="must be a datetime"):
        NIGHTLY.fire_times("2026-01-01", datetime(2026, 1, 2))  # type: ignore[arg-type]

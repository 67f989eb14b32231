"""Cron schedules: validation, DST-correct fire times and the catch-up policy of `tick`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from flowstone_cli.timing.cron import (
    CatchUp,
    DueTicks,
    check_schedule,
    count_fire_times,
    due_ticks,
    fire_times,
    latest_fire_times,
    next_fire_time,
    preview,
    previous_fire_time,
    validate_cron,
    validate_timezone,
)
from flowstone_cli.errors import UsageError

BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def croniter_instants(expression: str, timezone: str, after: datetime, until: datetime
                      ) -> list[datetime]:
    """What croniter itself gives, read as UTC instants and deduplicated: the reference."""
    it = croniter(expression, after.astimezone(ZoneInfo(timezone)))
    found: list[datetime] = []
    while (t := it.get_next(datetime).astimezone(UTC)) <= until:
        if t not in found:
            found.append(t)
    return found


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("expression", ["0 2 * * *", "*/5 * * * *", "15,45 9-17 * * mon-fri",
                                        "0 0 L * *", "0 0 29 2 *", "  0   3 * jan-mar sun "])
def test_five_field_expressions_are_valid(expression: str) -> None:
    assert validate_cron(expression) is None


@pytest.mark.parametrize("alias", ["@yearly", "@annually", "@monthly", "@weekly", "@daily",
                                   "@midnight", "@hourly", "@DAILY"])
def test_aliases_are_valid(alias: str) -> None:
    assert validate_cron(alias) is None


def test_six_fields_are_rejected_as_seconds() -> None:
    problem = validate_cron("0 0 2 * * *")
    assert problem is not None
    assert problem.startswith("6 fields") and "seconds are not supported" in problem


def test_seven_fields_are_rejected() -> None:
    problem = validate_cron("0 0 2 * * * 2025")
    assert problem is not None and problem.startswith("7 fields")


def test_reboot_is_rejected() -> None:
    assert validate_cron("@reboot") == "@reboot has no fire time; use a 5-field expression"


@pytest.mark.parametrize("expression", ["*/0 * * * *", "0 /0 * * *", "0 0 1-10/00 * *"])
def test_a_step_of_zero_is_rejected(expression: str) -> None:
    problem = validate_cron(expression)
    assert problem is not None and "step of 0" in problem


@pytest.mark.parametrize("expression", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_an_expression_that_never_fires_is_rejected(expression: str) -> None:
    assert validate_cron(expression) == "never fires (e.g. February 31st)"


@pytest.mark.parametrize("expression", ["garbage", "61 * * * *", "a b c d e", "", "@every 5m"])
def test_garbage_is_rejected(expression: str) -> None:
    assert validate_cron(expression) is not None


@pytest.mark.parametrize("expression", ["R * * * *", "H 2 * * *"])
def test_hashed_and_random_values_are_rejected(expression: str) -> None:
    problem = validate_cron(expression)
    assert problem is not None and "hashed (H) or random (R)" in problem


def test_validation_answers_for_every_kind_of_expression() -> None:
    # How fast is measured by bench/timing_limits.py; a test asserts behaviour only.
    expressions = ["0 2 * * *", "*/5 * * * *", "0 0 31 2 *", "15,45 9-17 * * mon-fri"]
    assert [validate_cron(expression) is None for expression in expressions] == [
        True, True, False, True]


def test_iana_time_zones_are_valid() -> None:
    assert validate_timezone("Europe/Berlin") is None
    assert validate_timezone("UTC") is None


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "Europe/"])
def test_unknown_time_zones_are_rejected(name: str) -> None:
    assert validate_timezone(name) is not None


def test_check_schedule_raises_a_usage_error_with_a_hint() -> None:
    with pytest.raises(UsageError, match="never fires") as bad_cron:
        check_schedule("0 0 31 2 *", BERLIN)
    assert bad_cron.value.hint
    with pytest.raises(UsageError, match="Mars/Olympus") as bad_zone:
        check_schedule("0 2 * * *", "Mars/Olympus")
    assert "IANA" in bad_zone.value.hint


def test_fire_times_reject_an_invalid_expression_with_a_usage_error() -> None:
    with pytest.raises(UsageError, match="6 fields"):
        fire_times("0 0 2 * * *", BERLIN, after=utc("2025-01-01T00:00"), until=utc("2025-02-01"))


# --- fire times -----------------------------------------------------------------------------

def test_daily_berlin_schedule_fires_at_one_utc_every_january_day() -> None:
    found = fire_times("0 2 * * *", BERLIN, after=utc("2025-01-01T00:00"),
                       until=utc("2025-02-01T00:00"))
    assert len(found) == 31
    assert all(t.tzinfo is UTC and (t.hour, t.minute) == (1, 0) for t in found)
    assert found[0] == utc("2025-01-01T01:00")


def test_fire_times_exclude_after_and_include_until() -> None:
    found = fire_times("0 * * * *", "UTC", after=utc("2025-01-01T01:00"),
                       until=utc("2025-01-01T03:00"))
    assert found == [utc("2025-01-01T02:00"), utc("2025-01-01T03:00")]


def test_limit_keeps_the_earliest_fire_times() -> None:
    found = fire_times("0 * * * *", "UTC", after=utc("2025-01-01T00:00"),
                       until=utc("2025-01-02T00:00"), limit=2)
    assert found == [utc("2025-01-01T01:00"), utc("2025-01-01T02:00")]


# croniter 7 in Europe/Berlin, as observed: on 2026-03-29 (spring forward) `30 2 * * *` fires once,
# at 03:00+02:00 = 01:00Z, and `0 * * * *` 23 times; on 2026-10-25 (fall back) `30 2 * * *` fires
# twice, 02:30+02:00 = 00:30Z and 02:30+01:00 = 01:30Z, and `0 * * * *` 25 times.
@pytest.mark.parametrize(("expression", "day", "expected_count"), [
    ("30 2 * * *", "2026-03-29", 1),
    ("30 2 * * *", "2026-10-25", 2),
    ("0 * * * *", "2026-03-29", 23),
    ("0 * * * *", "2026-10-25", 25),
])
def test_dst_days_give_exactly_croniters_instants(expression: str, day: str,
                                                  expected_count: int) -> None:
    zone = ZoneInfo(BERLIN)
    local_midnight = datetime.fromisoformat(day).replace(tzinfo=zone)
    after = local_midnight.astimezone(UTC) - timedelta(days=2)
    until = local_midnight.astimezone(UTC) + timedelta(days=2)
    found = fire_times(expression, BERLIN, after=after, until=until)
    assert found == croniter_instants(expression, BERLIN, after, until)
    assert len(set(found)) == len(found)
    on_day = [t for t in found if t.astimezone(zone).date().isoformat() == day]
    assert len(on_day) == expected_count


def test_fall_back_day_fires_at_both_half_past_twos() -> None:
    found = fire_times("30 2 * * *", BERLIN, after=utc("2026-10-24T12:00"),
                       until=utc("2026-10-25T12:00"))
    assert found == [utc("2026-10-25T00:30"), utc("2026-10-25T01:30")]


@pytest.mark.parametrize("expression", ["* * * * *", "*/7 1-3 * * *", "30 2 * * *", "0 0 L * *"])
def test_counting_agrees_with_listing_across_dst_changes(expression: str) -> None:
    for after, until in [("2026-03-28T23:13", "2026-03-29T04:07"),
                         ("2026-10-24T22:00", "2026-10-25T03:30"),
                         ("2026-03-27T05:17", "2026-03-31T00:00"),
                         ("2026-10-23T00:00", "2026-10-27T09:41")]:
        window = {"after": utc(after), "until": utc(until)}
        assert count_fire_times(expression, BERLIN, **window) == len(
            fire_times(expression, BERLIN, **window))


def test_latest_fire_times_walk_back_over_the_fall_back_hour() -> None:
    window = {"after": utc("2026-10-24T20:00"), "until": utc("2026-10-25T03:00")}
    forwards = fire_times("*/20 * * * *", BERLIN, **window)
    assert latest_fire_times("*/20 * * * *", BERLIN, count=12, **window) == forwards[-12:]


def test_previous_fire_time_includes_the_instant_itself() -> None:
    at = utc("2025-01-16T01:00")
    assert previous_fire_time("0 2 * * *", BERLIN, at=at) == at
    assert previous_fire_time("0 2 * * *", BERLIN, at=at - timedelta(seconds=1)) == utc(
        "2025-01-15T01:00")


def test_next_fire_time_is_strictly_after() -> None:
    assert next_fire_time("0 2 * * *", BERLIN, after=utc("2025-01-16T01:00")) == utc(
        "2025-01-17T01:00")


def test_preview_is_in_the_schedules_time_zone() -> None:
    shown = preview("30 2 * * *", BERLIN, start=utc("2026-10-24T12:00"), count=3)
    assert [t.isoformat() for t in shown] == ["2026-10-25T02:30:00+02:00",
                                             "2026-10-25T02:30:00+01:00",
                                             "2026-10-26T02:30:00+01:00"]
    assert all(t.tzinfo == ZoneInfo(BERLIN) for t in shown)


@pytest.mark.parametrize("call", [
    lambda: fire_times("0 2 * * *", BERLIN, after=datetime(2025, 1, 1), until=utc("2025-02-01")),
    lambda: latest_fire_times("0 2 * * *", BERLIN, after=None, until=datetime(2025, 1, 1),
                              count=1),
    lambda: preview("0 2 * * *", BERLIN, start=datetime(2025, 1, 1), count=1),
    lambda: due_ticks("0 2 * * *", BERLIN, last_tick=None, now=datetime(2025, 1, 1)),
    lambda: due_ticks("0 2 * * *", BERLIN, last_tick=datetime(2025, 1, 1), now=utc("2025-01-02")),
])
def test_naive_datetimes_raise_value_error(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()  # type: ignore[operator]


# --- catch-up -------------------------------------------------------------------------------

def test_first_tick_launches_the_fire_time_since_first_seen() -> None:
    # `flowstone tick --now 2025-01-16T01:05:00Z` for a schedule first seen at midnight.
    due = due_ticks("0 2 * * *", BERLIN, last_tick=None, now=utc("2025-01-16T01:05"),
                    first_seen=utc("2025-01-16T00:00"))
    assert due == DueTicks(fire_times=(utc("2025-01-16T01:00"),), missed=0)


def test_ticking_again_after_recording_the_launch_returns_nothing() -> None:
    due = due_ticks("0 2 * * *", BERLIN, last_tick=utc("2025-01-16T01:00"),
                    now=utc("2025-01-16T01:05"))
    assert due == DueTicks(fire_times=(), missed=0)


def test_a_brand_new_schedule_never_launches_a_backlog() -> None:
    due = due_ticks("0 2 * * *", BERLIN, last_tick=None, now=utc("2025-01-16T12:00"),
                    catch_up="all")
    assert due == DueTicks(fire_times=(), missed=0)


def test_a_brand_new_schedule_launches_a_fire_time_within_grace() -> None:
    due = due_ticks("*/5 * * * *", BERLIN, last_tick=None, now=utc("2025-01-16T12:00:30"))
    assert due == DueTicks(fire_times=(utc("2025-01-16T12:00"),), missed=0)


# Off for 30 days with `*/5`: the window (11:55 on day 0, 12:00 on day 30] holds 30 * 288 + 1 =
# 8,641 fire times (RELIABILITY.md), across the 2025-03-30 spring-forward change.
BACKLOG = {"last_tick": utc("2025-03-01T11:55"), "now": utc("2025-03-31T12:00")}


def test_latest_launches_only_the_most_recent_of_a_backlog() -> None:
    due = due_ticks("*/5 * * * *", BERLIN, catch_up=CatchUp.LATEST, **BACKLOG)
    assert due == DueTicks(fire_times=(utc("2025-03-31T12:00"),), missed=8_640)


def test_all_launches_the_most_recent_max_catch_up_in_order() -> None:
    due = due_ticks("*/5 * * * *", BERLIN, catch_up="all", max_catch_up=24, **BACKLOG)
    expected = [utc("2025-03-31T12:00") - timedelta(minutes=5 * n) for n in range(23, -1, -1)]
    assert due == DueTicks(fire_times=tuple(expected), missed=8_641 - 24)


def test_none_launches_nothing_when_the_latest_is_past_grace() -> None:
    late = {**BACKLOG, "now": utc("2025-03-31T12:03")}
    assert due_ticks("*/5 * * * *", BERLIN, catch_up="none", **late) == DueTicks((), 8_641)


def test_none_launches_the_latest_when_it_is_within_grace() -> None:
    due = due_ticks("*/5 * * * *", BERLIN, catch_up="none", **BACKLOG)
    assert due == DueTicks(fire_times=(utc("2025-03-31T12:00"),), missed=8_640)


@pytest.mark.parametrize(("policy", "cap", "launched"), [("latest", 24, 1), ("all", 24, 24),
                                                         ("all", 100, 30)])
def test_a_daily_schedule_after_thirty_days(policy: str, cap: int, launched: int) -> None:
    due = due_ticks("0 2 * * *", BERLIN, last_tick=utc("2025-01-01T01:00"),
                    now=utc("2025-01-31T01:30"), catch_up=policy, max_catch_up=cap)
    assert len(due.fire_times) == launched
    assert due.fire_times[-1] == utc("2025-01-31T01:00")
    assert due.missed == 30 - launched


def test_a_month_old_every_minute_backlog_is_counted_not_listed() -> None:
    due = due_ticks("* * * * *", BERLIN, catch_up="all", last_tick=utc("2025-03-01T12:00"),
                    now=utc("2025-03-31T12:00"))
    assert due.missed == 30 * 1440 - 24  # its cost is measured by bench/timing_limits.py


def test_inputs_in_other_zones_are_read_as_instants() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    due = due_ticks("0 2 * * *", BERLIN, last_tick=datetime(2025, 1, 15, 10, tzinfo=tokyo),
                    now=datetime(2025, 1, 16, 10, 5, tzinfo=tokyo))
    assert due.fire_times == (utc("2025-01-16T01:00"),)
    assert due.fire_times[0].tzinfo is UTC


def test_an_unknown_policy_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="catch_up"):
        due_ticks("0 2 * * *", BERLIN, last_tick=None, now=utc("2025-01-16"), catch_up="some")


def test_a_cap_below_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="max_catch_up"):
        due_ticks("0 2 * * *", BERLIN, last_tick=None, now=utc("2025-01-16"), catch_up="all",
                  max_catch_up=0)


def test_importing_the_module_does_not_import_croniter() -> None:
    code = ("import sys, flowstone_cli.timing.cron; "
            "sys.exit('croniter' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

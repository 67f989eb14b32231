"""Time-window partitions: keys, ranges, windows, `now`, construction errors and storage paths."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    WeeklyPartitions,
)

NOW = datetime(2025, 1, 5, 12, 30, tzinfo=UTC)


def hours(start: datetime, end: datetime) -> float:
    # Same-zone datetimes subtract on the wall clock; compare real elapsed time through UTC.
    return (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)


# -- keys -------------------------------------------------------------------------------------

def test_daily_keys_run_from_start_to_the_last_complete_day() -> None:
    daily = DailyPartitions(start="2025-01-01")
    assert daily.keys(now=NOW) == ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]


def test_hourly_keys_end_with_the_last_complete_hour() -> None:
    hourly = HourlyPartitions(start="2025-01-05T09:00")
    assert hourly.keys(now=NOW) == ["2025-01-05T09:00", "2025-01-05T10:00", "2025-01-05T11:00"]


def test_weekly_keys_are_mondays() -> None:
    weekly = WeeklyPartitions(start="2025-01-06")
    assert weekly.keys(now=datetime(2025, 1, 27, tzinfo=UTC)) == [
        "2025-01-06", "2025-01-13", "2025-01-20"]


def test_monthly_keys_are_year_and_month() -> None:
    monthly = MonthlyPartitions(start="2024-11")
    assert monthly.keys(now=datetime(2025, 2, 10, tzinfo=UTC)) == ["2024-11", "2024-12", "2025-01"]


def test_keys_are_empty_before_the_first_window_completes() -> None:
    assert DailyPartitions(start="2025-01-05").keys(now=NOW) == []


def test_keys_without_now_use_the_current_time() -> None:
    daily = DailyPartitions(start=date.today() - timedelta(days=3))
    assert len(daily.keys()) in (2, 3, 4)  # the UTC day may differ from the local one


def test_explicit_end_excludes_the_window_it_cuts() -> None:
    daily = DailyPartitions(start="2025-01-01", end="2025-01-03T12:00")
    assert daily.end == "2025-01-03T12:00"  # kept as given
    assert daily.last_key == "2025-01-02"
    assert daily.keys(now=datetime(2030, 1, 1, tzinfo=UTC)) == ["2025-01-01", "2025-01-02"]


def test_explicit_end_still_lists_only_windows_complete_at_now() -> None:
    daily = DailyPartitions(start="2025-01-01", end="2025-02-01")
    assert daily.keys(now=NOW)[-1] == "2025-01-04"


def test_start_inside_a_window_rounds_up_to_the_next_whole_window() -> None:
    assert DailyPartitions(start="2025-01-01T06:00").first_key == "2025-01-02"
    assert WeeklyPartitions(start="2025-01-01").first_key == "2025-01-06"
    assert MonthlyPartitions(start="2025-01-15").first_key == "2025-02"


def test_start_and_end_stay_as_given() -> None:
    daily = DailyPartitions(start="2025-01-01T06:00", end=date(2025, 2, 1))
    assert (daily.start, daily.end) == ("2025-01-01T06:00", date(2025, 2, 1))
    assert (daily.first_key, daily.last_key) == ("2025-01-02", "2025-01-31")
    assert DailyPartitions(start="2025-01-01").last_key is None
    assert "start='2025-01-01T06:00'" in repr(daily)


def test_start_accepts_date_datetime_and_strings_alike() -> None:
    expected = DailyPartitions(start="2025-01-01")
    assert DailyPartitions(start=date(2025, 1, 1)) == expected
    assert DailyPartitions(start=datetime(2025, 1, 1)) == expected
    assert hash(DailyPartitions(start=date(2025, 1, 1))) == hash(expected)


def test_aware_start_is_read_in_the_definition_zone() -> None:
    start = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)  # midnight in Berlin
    assert DailyPartitions(start=start, timezone="Europe/Berlin").first_key == "2025-01-01"


def test_definitions_of_different_granularity_are_not_equal() -> None:
    assert DailyPartitions(start="2025-01-06") != WeeklyPartitions(start="2025-01-06")


def test_definitions_pickle_to_equal_objects() -> None:
    hourly = HourlyPartitions(start="2025-01-01", timezone="Europe/Berlin")
    hourly.keys(now=NOW)
    assert pickle.loads(pickle.dumps(hourly)) == hourly


def test_key_range_is_inclusive() -> None:
    daily = DailyPartitions(start="2025-01-01")
    assert daily.key_range("2025-01-30", "2025-02-02") == [
        "2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"]


def test_backwards_key_range_is_refused() -> None:
    with pytest.raises(PartitionError, match="backwards"):
        DailyPartitions(start="2025-01-01").key_range("2025-01-05", "2025-01-02")


def test_monthly_key_range_crosses_the_year() -> None:
    monthly = MonthlyPartitions(start="2024-01")
    assert monthly.key_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]


def test_latest_complete_key_is_the_last_key() -> None:
    daily = DailyPartitions(start="2025-01-01")
    assert daily.latest_complete_key(NOW) == "2025-01-04"
    assert DailyPartitions(start="2025-01-05").latest_complete_key(NOW) is None


def test_describe_names_kind_start_and_zone() -> None:
    assert DailyPartitions(start="2025-01-01").describe() == "daily from 2025-01-01 (UTC)"
    assert MonthlyPartitions(start="2025-01", end="2025-04").describe() == \
        "monthly from 2025-01 to 2025-03 (UTC)"


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize(("definition", "bad", "expected"), [
    (DailyPartitions(start="2025-01-01"), "2025-1-5", "YYYY-MM-DD"),
    (DailyPartitions(start="2025-01-01"), "2025-02-30", "YYYY-MM-DD"),
    (HourlyPartitions(start="2025-01-01"), "2025-01-15T03:30", "YYYY-MM-DDTHH:00"),
    (HourlyPartitions(start="2025-01-01"), "2025-01-15T24:00", "YYYY-MM-DDTHH:00"),
    (MonthlyPartitions(start="2025-01"), "2025-01-01", "YYYY-MM"),
    (MonthlyPartitions(start="2025-01"), "2025-13", "YYYY-MM"),
])
def test_malformed_keys_name_the_expected_format(definition: object, bad: str,
                                                 expected: str) -> None:
    with pytest.raises(PartitionError) as caught:
        definition.validate_key(bad)  # type: ignore[attr-defined]
    assert bad in caught.value.message and expected in caught.value.message


def test_weekly_key_that_is_not_a_monday_names_the_monday() -> None:
    with pytest.raises(PartitionError) as caught:
        WeeklyPartitions(start="2025-01-06").validate_key("2025-01-15")
    assert "Monday" in caught.value.message and "2025-01-13" in caught.value.hint


def test_key_before_start_names_the_range() -> None:
    with pytest.raises(PartitionError, match="out of range.*2025-01-01"):
        DailyPartitions(start="2025-01-01").validate_key("2024-12-31")


def test_key_at_or_after_end_is_out_of_range() -> None:
    daily = DailyPartitions(start="2025-01-01", end="2025-02-01")
    assert daily.validate_key("2025-01-31") == "2025-01-31"
    with pytest.raises(PartitionError, match="2025-01-01 to 2025-01-31"):
        daily.validate_key("2025-02-01")


def test_out_of_range_key_passes_without_range_check() -> None:
    daily = DailyPartitions(start="2025-01-01")
    assert daily.validate_key("2024-12-31", check_range=False) == "2024-12-31"


def test_validate_key_does_not_look_at_the_clock() -> None:
    # The current, incomplete window is a valid key; only keys() limits itself to complete ones.
    assert DailyPartitions(start="2025-01-01").validate_key("2099-01-01") == "2099-01-01"


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"start": "2025-01-01", "timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"start": "2025-01-01", "timezone": "../../etc/passwd"}, "unknown time zone"),
    ({"start": "2025-02-01", "end": "2025-01-01"}, "not before end"),
    ({"start": "yesterday"}, "not a date"),
    ({"start": 20250101}, "not a date"),
    ({"start": "2025-01-01T10:00", "end": "2025-01-01T20:00"}, "no complete daily window"),
])
def test_bad_construction_raises_with_a_hint(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(PartitionError, match=fragment) as caught:
        DailyPartitions(**kwargs)  # type: ignore[arg-type]
    assert caught.value.hint


# -- windows and time lookup -------------------------------------------------------------------

def test_window_is_aware_in_the_definition_zone_with_exclusive_end() -> None:
    daily = DailyPartitions(start="2025-01-01", timezone="Europe/Berlin")
    start, end = daily.window("2025-01-15")
    assert start == datetime(2025, 1, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    assert end == datetime(2025, 1, 16, tzinfo=ZoneInfo("Europe/Berlin"))
    assert start.tzinfo == ZoneInfo("Europe/Berlin")


def test_weekly_window_runs_monday_to_monday() -> None:
    start, end = WeeklyPartitions(start="2025-01-06").window("2025-01-13")
    assert (start.date(), end.date()) == (date(2025, 1, 13), date(2025, 1, 20))


def test_monthly_window_covers_the_calendar_month() -> None:
    start, end = MonthlyPartitions(start="2024-01").window("2024-02")
    assert (start.date(), end.date()) == (date(2024, 2, 1), date(2024, 3, 1))


def test_key_for_time_finds_the_containing_window_in_the_zone() -> None:
    daily = DailyPartitions(start="2025-01-01", timezone="Europe/Berlin")
    assert daily.key_for_time(datetime(2025, 1, 15, 23, 30, tzinfo=UTC)) == "2025-01-16"
    assert WeeklyPartitions(start="2025-01-06").key_for_time(datetime(2025, 1, 19, 23)) == \
        "2025-01-13"
    assert MonthlyPartitions(start="2025-01").key_for_time(datetime(2025, 3, 31, 23)) == \
        "2025-03"


def test_week_containing_new_year_is_named_by_its_monday_in_december() -> None:
    weekly = WeeklyPartitions(start="2024-12-02")
    assert weekly.key_for_time(datetime(2025, 1, 1, 12)) == "2024-12-30"
    start, end = weekly.window("2024-12-30")
    assert (start.date(), end.date()) == (date(2024, 12, 30), date(2025, 1, 6))


def test_naive_times_are_wall_clock_times_of_the_definition_zone() -> None:
    daily = DailyPartitions(start="2025-01-01", timezone="America/New_York")
    assert daily.key_for_time(datetime(2025, 1, 15, 23, 30)) == "2025-01-15"
    assert daily.key_for_time(datetime(2025, 1, 16, 3, 30, tzinfo=UTC)) == "2025-01-15"


def test_default_end_follows_the_zone_of_the_definition() -> None:
    daily = DailyPartitions(start="2026-03-01", timezone="Europe/Berlin")
    # 22:30 UTC on the 29th is already 00:30 on the 30th in Berlin: the 29th is complete.
    assert daily.latest_complete_key(datetime(2026, 3, 29, 22, 30, tzinfo=UTC)) == "2026-03-29"
    assert daily.latest_complete_key(datetime(2026, 3, 29, 21, 30, tzinfo=UTC)) == "2026-03-28"


def test_shift_key_moves_by_whole_windows() -> None:
    assert MonthlyPartitions(start="2024-01").shift_key("2025-01", -2) == "2024-11"
    assert WeeklyPartitions(start="2025-01-06").shift_key("2025-01-06", 1) == "2025-01-13"


# -- daylight saving time (Europe/Berlin, 2026-03-29 and 2026-10-25) ---------------------------

def test_daily_window_on_spring_change_lasts_23_hours() -> None:
    daily = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    assert hours(*daily.window("2026-03-29")) == 23


def test_daily_window_on_autumn_change_lasts_25_hours() -> None:
    daily = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    assert hours(*daily.window("2026-10-25")) == 25


def test_hourly_spring_change_skips_the_missing_hour() -> None:
    hourly = HourlyPartitions(start="2026-03-29", end="2026-03-30", timezone="Europe/Berlin")
    keys = hourly.keys(now=datetime(2027, 1, 1, tzinfo=UTC))
    assert len(keys) == 23
    assert keys[1:3] == ["2026-03-29T01:00", "2026-03-29T03:00"]
    assert hours(*hourly.window("2026-03-29T01:00")) == 1


def test_hourly_skipped_hour_is_refused_with_its_reason() -> None:
    hourly = HourlyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    with pytest.raises(PartitionError, match="skips that hour") as caught:
        hourly.validate_key("2026-03-29T02:00")
    assert "2026-03-29T01:00" in caught.value.hint and "2026-03-29T03:00" in caught.value.hint


def test_hourly_autumn_change_has_one_key_for_the_repeated_hour() -> None:
    hourly = HourlyPartitions(start="2026-10-25", end="2026-10-26", timezone="Europe/Berlin")
    keys = hourly.keys(now=datetime(2027, 1, 1, tzinfo=UTC))
    assert len(keys) == 24 and keys.count("2026-10-25T02:00") == 1
    start, end = hourly.window("2026-10-25T02:00")
    assert hours(start, end) == 2
    assert start.astimezone(UTC) == datetime(2026, 10, 25, 0, tzinfo=UTC)


def test_hourly_windows_of_a_dst_day_tile_the_day() -> None:
    zone = "Europe/Berlin"
    hourly = HourlyPartitions(start="2026-10-25", end="2026-10-26", timezone=zone)
    keys = hourly.keys(now=datetime(2027, 1, 1, tzinfo=UTC))
    windows = [hourly.window(key) for key in keys]
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))
    day = DailyPartitions(start="2026-10-25", timezone=zone).window("2026-10-25")
    assert (windows[0][0], windows[-1][1]) == day


def test_both_passes_of_the_repeated_hour_belong_to_its_key() -> None:
    hourly = HourlyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)   # 02:30 CEST
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert hourly.key_for_time(first) == hourly.key_for_time(second) == "2026-10-25T02:00"


def test_hourly_repeated_hour_is_complete_only_after_its_second_pass() -> None:
    hourly = HourlyPartitions(start="2026-10-25", timezone="Europe/Berlin")
    assert hourly.latest_complete_key(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == \
        "2026-10-25T01:00"
    assert hourly.latest_complete_key(datetime(2026, 10, 25, 2, 0, tzinfo=UTC)) == \
        "2026-10-25T02:00"


def test_hourly_shift_steps_over_the_skipped_hour() -> None:
    hourly = HourlyPartitions(start="2026-01-01", timezone="Europe/Berlin")
    assert hourly.shift_key("2026-03-29T03:00", -1) == "2026-03-29T01:00"
    assert hourly.shift_key("2026-03-29T00:00", 48) == "2026-03-31T01:00"


# -- storage paths -----------------------------------------------------------------------------

def test_hourly_path_replaces_the_colon_and_round_trips() -> None:
    hourly = HourlyPartitions(start="2025-01-01")
    assert hourly.path_for("2025-01-15T03:00") == "2025-01-15T03-00"
    assert hourly.key_from_path("2025-01-15T03-00") == "2025-01-15T03:00"


@pytest.mark.parametrize("definition", [
    DailyPartitions(start="2025-01-01"), WeeklyPartitions(start="2025-01-06"),
    MonthlyPartitions(start="2025-01"), HourlyPartitions(start="2025-01-01T00:00"),
])
def test_path_for_and_key_from_path_are_inverse(definition: object) -> None:
    for key in definition.keys(now=datetime(2025, 3, 1, tzinfo=UTC))[:50]:  # type: ignore
        path = definition.path_for(key)  # type: ignore[attr-defined]
        assert ":" not in path and "/" not in path
        assert definition.key_from_path(path) == key  # type: ignore[attr-defined]


def test_key_from_a_malformed_hourly_path_is_refused() -> None:
    with pytest.raises(PartitionError, match="YYYY-MM-DDTHH-00"):
        HourlyPartitions(start="2025-01-01").key_from_path("2025-01-15T03:00")


LORD_HOWE = HourlyPartitions(start="2025-10-01T00:00", timezone="Australia/Lord_Howe")


def test_an_hour_exists_when_any_minute_of_it_does() -> None:
    # Lord Howe Island moves its clocks from 02:00 to 02:30 on 2025-10-05.
    assert LORD_HOWE.validate_key("2025-10-05T02:00") == "2025-10-05T02:00"
    assert "2025-10-05T02:00" in LORD_HOWE.key_range("2025-10-05T00:00", "2025-10-05T23:00")
    for key, minutes in (("2025-10-05T01:00", 60), ("2025-10-05T02:00", 30)):
        start, end = LORD_HOWE.window(key)
        assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=minutes)
    zone = ZoneInfo("Australia/Lord_Howe")
    assert LORD_HOWE.key_for_time(datetime(2025, 10, 5, 2, 45, tzinfo=zone)) == \
        "2025-10-05T02:00"
    assert LORD_HOWE.key_for_time(datetime(2025, 10, 5, 2, 10)) == "2025-10-05T02:00"


def test_a_day_whose_midnight_is_skipped_starts_after_the_gap() -> None:
    daily = DailyPartitions(start="2025-09-07", timezone="America/Santiago")
    assert daily.first_key == "2025-09-07"
    start, end = daily.window("2025-09-07")
    assert (start.hour, end.astimezone(UTC) - start.astimezone(UTC)) == (1, timedelta(hours=23))
    hourly = HourlyPartitions(start="2025-09-01", timezone="America/Santiago")
    assert hourly.key_for_time(datetime(2025, 9, 7, 0, 30)) == "2025-09-07T01:00"

"""Weeks that start on any day: keys, validation, and mappings to days and months."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    DailyPartitions,
    MonthlyPartitions,
    TimeWindowMapping,
    WeeklyPartitions,
)

SUNDAY_WEEKS = WeeklyPartitions(start="2025-01-01", end="2025-03-01", week_start="sunday")
DAYS = DailyPartitions(start="2024-12-01", end="2025-04-01")
MONTHS = MonthlyPartitions(start="2024-12", end="2025-04")
MAPPING = TimeWindowMapping()
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def test_sunday_weeks_are_named_by_their_sunday() -> None:
    assert SUNDAY_WEEKS.keys(now=LATER)[:3] == ["2025-01-05", "2025-01-12", "2025-01-19"]
    assert SUNDAY_WEEKS.first_key == "2025-01-05"
    start, end = SUNDAY_WEEKS.window("2025-01-05")
    assert (start.date().isoformat(), end.date().isoformat()) == ("2025-01-05", "2025-01-12")
    assert SUNDAY_WEEKS.key_for_time(datetime(2025, 1, 11, 23, 59)) == "2025-01-05"


def test_every_weekday_can_start_a_week() -> None:
    for offset, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                   "saturday", "sunday")):
        weeks = WeeklyPartitions(start="2025-01-06", week_start=name.upper())
        assert weeks.first_key == f"2025-01-{6 + offset:02d}"


def test_a_key_on_another_weekday_names_the_week_it_belongs_to() -> None:
    with pytest.raises(PartitionError, match="not a Sunday") as caught:
        SUNDAY_WEEKS.validate_key("2025-01-08")
    assert "2025-01-05" in caught.value.hint


def test_an_unknown_week_start_is_refused() -> None:
    with pytest.raises(PartitionError, match="not a day of the week"):
        WeeklyPartitions(start="2025-01-01", week_start="sun")


def test_week_start_is_part_of_equality_and_survives_pickling() -> None:
    assert SUNDAY_WEEKS != WeeklyPartitions(start="2025-01-01", end="2025-03-01")
    assert pickle.loads(pickle.dumps(SUNDAY_WEEKS)) == SUNDAY_WEEKS
    assert "weeks start on sunday" in SUNDAY_WEEKS.describe()


def test_sunday_weeks_map_to_days_both_ways() -> None:
    days = MAPPING.upstream_keys("2025-01-12", downstream=SUNDAY_WEEKS, upstream=DAYS)
    assert days == [f"2025-01-{day:02d}" for day in range(12, 19)]
    for day in days:
        assert MAPPING.downstream_keys(day, upstream=DAYS, downstream=SUNDAY_WEEKS) == \
            ["2025-01-12"]
    assert MAPPING.upstream_keys("2025-01-14", downstream=DAYS, upstream=SUNDAY_WEEKS) == \
        ["2025-01-12"]


def test_sunday_weeks_map_to_months_both_ways() -> None:
    # The week of Sunday 2025-01-26 runs to Saturday 2025-02-01: it straddles two months.
    assert MAPPING.upstream_keys("2025-01-26", downstream=SUNDAY_WEEKS, upstream=MONTHS) == \
        ["2025-01", "2025-02"]
    weeks = MAPPING.upstream_keys("2025-02", downstream=MONTHS, upstream=SUNDAY_WEEKS)
    assert weeks == ["2025-01-26", "2025-02-02", "2025-02-09", "2025-02-16"]
    for week in weeks:
        assert "2025-02" in MAPPING.downstream_keys(week, upstream=SUNDAY_WEEKS,
                                                    downstream=MONTHS)


def test_monday_and_sunday_weeks_overlap_by_six_days() -> None:
    monday_weeks = WeeklyPartitions(start="2025-01-06", end="2025-03-03")
    assert MAPPING.upstream_keys("2025-01-13", downstream=monday_weeks,
                                 upstream=SUNDAY_WEEKS) == ["2025-01-12", "2025-01-19"]

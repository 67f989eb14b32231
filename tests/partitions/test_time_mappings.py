"""Time mappings: offsets, last-N windows, granularity changes, DST, zones and exact inverses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    DailyPartitions,
    HourlyPartitions,
    LastNWindowsMapping,
    MonthlyPartitions,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowMapping,
    TimeWindowPartitions,
    WeeklyPartitions,
)

DAILY = DailyPartitions(start="2025-01-01")
MONTHLY = MonthlyPartitions(start="2025-01")
WEEKLY = WeeklyPartitions(start="2025-01-06")
BERLIN_DAILY = DailyPartitions(start="2026-01-01", timezone="Europe/Berlin")
BERLIN_HOURLY = HourlyPartitions(start="2026-01-01", timezone="Europe/Berlin")
LATER = datetime(2027, 1, 1, tzinfo=UTC)


def test_yesterday_reads_the_previous_day() -> None:
    assert TimeWindowMapping(-1, -1).upstream_keys(
        "2025-01-15", downstream=DAILY, upstream=DAILY) == ["2025-01-14"]


def test_yesterday_of_the_first_day_is_dropped_as_out_of_range() -> None:
    assert TimeWindowMapping(-1, -1).upstream_keys("2025-01-01",
                                                   downstream=DAILY, upstream=DAILY) == []


def test_zero_offsets_between_equal_calendars_read_the_same_key() -> None:
    later_start = DailyPartitions(start="2025-01-10")
    assert TimeWindowMapping().upstream_keys(
        "2025-01-15", downstream=DAILY, upstream=later_start) == ["2025-01-15"]
    assert TimeWindowMapping().upstream_keys("2025-01-05",
                                             downstream=DAILY, upstream=later_start) == []


def test_offsets_span_the_last_seven_days() -> None:
    keys = TimeWindowMapping(-6, 0).upstream_keys("2025-01-15", downstream=DAILY, upstream=DAILY)
    assert keys == [f"2025-01-{day:02d}" for day in range(9, 16)]


def test_last_n_windows_reads_the_window_and_the_ones_before() -> None:
    keys = LastNWindowsMapping(7).upstream_keys("2025-01-15", downstream=DAILY, upstream=DAILY)
    assert keys == [f"2025-01-{day:02d}" for day in range(9, 16)]


def test_month_reads_every_day_of_the_month() -> None:
    keys = TimeWindowMapping().upstream_keys("2025-01", downstream=MONTHLY, upstream=DAILY)
    assert len(keys) == 31 and keys[0] == "2025-01-01" and keys[-1] == "2025-01-31"


def test_month_reads_only_days_inside_the_upstream_range() -> None:
    late_daily = DailyPartitions(start="2025-01-10")
    assert len(TimeWindowMapping().upstream_keys("2025-01",
                                                 downstream=MONTHLY, upstream=late_daily)) == 22


def test_day_reads_the_month_containing_it() -> None:
    assert TimeWindowMapping().upstream_keys("2025-02-15",
                                             downstream=DAILY, upstream=MONTHLY) == ["2025-02"]


def test_week_reads_its_seven_days() -> None:
    keys = TimeWindowMapping().upstream_keys("2025-01-13", downstream=WEEKLY, upstream=DAILY)
    assert keys == [f"2025-01-{day:02d}" for day in range(13, 20)]


def test_offsets_count_downstream_windows() -> None:
    # A monthly asset reading "last month" of a daily one reads all of December.
    keys = TimeWindowMapping(-1, -1).upstream_keys("2025-02", downstream=MONTHLY, upstream=DAILY)
    assert (keys[0], keys[-1], len(keys)) == ("2025-01-01", "2025-01-31", 31)


def test_last_n_counts_upstream_windows() -> None:
    assert LastNWindowsMapping(2).upstream_keys("2025-02-15",
                                                downstream=DAILY, upstream=MONTHLY) == [
        "2025-01", "2025-02"]
    hourly = HourlyPartitions(start="2025-01-01")
    assert LastNWindowsMapping(3).upstream_keys("2025-01-15",
                                                downstream=DAILY, upstream=hourly) == [
        "2025-01-15T21:00", "2025-01-15T22:00", "2025-01-15T23:00"]


def test_dst_day_reads_its_23_local_hours() -> None:
    keys = TimeWindowMapping().upstream_keys("2026-03-29",
                                             downstream=BERLIN_DAILY, upstream=BERLIN_HOURLY)
    assert len(keys) == 23 and "2026-03-29T02:00" not in keys


def test_hour_after_the_skipped_hour_reads_the_hour_before_it() -> None:
    assert TimeWindowMapping(-1, -1).upstream_keys(
        "2026-03-29T03:00", downstream=BERLIN_HOURLY,
        upstream=BERLIN_HOURLY) == ["2026-03-29T01:00"]


def test_different_zones_map_through_real_time() -> None:
    utc_hourly = HourlyPartitions(start="2026-01-01")
    keys = TimeWindowMapping().upstream_keys("2026-01-15",
                                             downstream=BERLIN_DAILY, upstream=utc_hourly)
    assert len(keys) == 24
    assert (keys[0], keys[-1]) == ("2026-01-14T23:00", "2026-01-15T22:00")


def test_both_utc_hours_of_the_repeated_berlin_hour_read_its_one_key() -> None:
    utc_hourly = HourlyPartitions(start="2026-01-01")
    for utc_key in ("2026-10-25T00:00", "2026-10-25T01:00"):
        assert TimeWindowMapping().upstream_keys(utc_key,
                                                 downstream=utc_hourly, upstream=BERLIN_HOURLY) == [
            "2026-10-25T02:00"]
    assert TimeWindowMapping().downstream_keys("2026-10-25T02:00", upstream=BERLIN_HOURLY,
                                               downstream=utc_hourly) == [
        "2026-10-25T00:00", "2026-10-25T01:00"]


def test_time_mapping_between_non_time_definitions_is_refused() -> None:
    with pytest.raises(PartitionError, match="time partitions on both sides"):
        TimeWindowMapping().upstream_keys("acme",
                                          downstream=StaticPartitions(["acme"]), upstream=DAILY)


@pytest.mark.parametrize(("mapping", "downstream", "upstream", "expected"), [
    (TimeWindowMapping(), DAILY, MONTHLY, None),
    (TimeWindowMapping(), DAILY, None, "upstream is unpartitioned"),
    (TimeWindowMapping(), StaticPartitions(["a"]), DAILY, "downstream is static (a)"),
    (LastNWindowsMapping(3), DAILY, StaticPartitions(["a"]), "LastNWindowsMapping needs time"),
])
def test_validate_names_the_problem(mapping: PartitionMapping,
                                    downstream: PartitionsDefinition | None,
                                    upstream: PartitionsDefinition | None,
                                    expected: str | None) -> None:
    problem = mapping.validate(downstream, upstream)
    assert problem is None if expected is None else expected in str(problem)


def test_start_offset_after_end_offset_is_refused() -> None:
    with pytest.raises(PartitionError, match="start_offset"):
        TimeWindowMapping(start_offset=0, end_offset=-1)


def test_last_n_needs_a_positive_count() -> None:
    with pytest.raises(PartitionError, match="n >= 1"):
        LastNWindowsMapping(0)


def test_mappings_compare_by_value() -> None:
    assert TimeWindowMapping(-1, -1) == TimeWindowMapping(start_offset=-1, end_offset=-1)
    assert hash(LastNWindowsMapping(7)) == hash(LastNWindowsMapping(7))


INVERSE_CASES = [
    pytest.param(TimeWindowMapping(), DAILY, DailyPartitions(start="2025-01-10"),
                 id="daily<-daily starting later"),
    pytest.param(TimeWindowMapping(-1, -1), DAILY, DAILY, id="yesterday"),
    pytest.param(TimeWindowMapping(-2, 3), DAILY, DAILY, id="daily span -2..+3"),
    pytest.param(TimeWindowMapping(), MONTHLY, DAILY, id="monthly<-daily"),
    pytest.param(TimeWindowMapping(-1, 0), DAILY, MONTHLY, id="daily<-monthly -1..0"),
    pytest.param(TimeWindowMapping(), WEEKLY, DAILY, id="weekly<-daily"),
    pytest.param(TimeWindowMapping(0, 1), DAILY, WEEKLY, id="daily<-weekly 0..1"),
    pytest.param(TimeWindowMapping(), BERLIN_DAILY, BERLIN_HOURLY, id="DST daily<-hourly"),
    pytest.param(TimeWindowMapping(), BERLIN_HOURLY, BERLIN_DAILY, id="DST hourly<-daily"),
    pytest.param(TimeWindowMapping(-1, -1), BERLIN_HOURLY, BERLIN_HOURLY,
                 id="DST previous hour"),
    pytest.param(TimeWindowMapping(), BERLIN_DAILY, HourlyPartitions(start="2026-01-01"),
                 id="Berlin daily<-UTC hourly"),
    pytest.param(TimeWindowMapping(), HourlyPartitions(start="2026-01-01"), BERLIN_HOURLY,
                 id="UTC hourly<-Berlin hourly"),
    pytest.param(LastNWindowsMapping(2), HourlyPartitions(start="2026-01-01"), BERLIN_DAILY,
                 id="UTC hour<-last 2 Berlin days"),
    pytest.param(LastNWindowsMapping(7), DAILY, DAILY, id="last 7 days"),
    pytest.param(LastNWindowsMapping(2), DAILY, MONTHLY, id="last 2 months of a day"),
    pytest.param(LastNWindowsMapping(3), BERLIN_DAILY, BERLIN_HOURLY,
                 id="DST last 3 hours of a day"),
    pytest.param(LastNWindowsMapping(5), BERLIN_HOURLY, BERLIN_HOURLY, id="DST last 5 hours"),
]


@pytest.mark.parametrize(("mapping", "downstream", "upstream"), INVERSE_CASES)
def test_downstream_keys_are_the_exact_inverse_of_upstream_keys(
        mapping: PartitionMapping, downstream: PartitionsDefinition,
        upstream: PartitionsDefinition) -> None:
    # A span of downstream keys around the DST changes of 2026 (or January 2025).
    if isinstance(downstream, HourlyPartitions):
        down_keys = (downstream.key_range("2026-03-28T20:00", "2026-03-30T04:00")
                     + downstream.key_range("2026-10-24T20:00", "2026-10-26T04:00"))
    elif downstream.timezone == "Europe/Berlin":  # type: ignore[attr-defined]
        down_keys = downstream.key_range("2026-03-20", "2026-04-05")
    else:
        down_keys = downstream.keys(now=datetime(2025, 4, 1, tzinfo=UTC))
    reads = {key: mapping.upstream_keys(key, downstream=downstream, upstream=upstream)
             for key in down_keys}
    assert any(reads.values()), "the case should read something"
    # Every upstream key from well before to well after the span, read or not.
    assert isinstance(downstream, TimeWindowPartitions)
    assert isinstance(upstream, TimeWindowPartitions)
    margin = timedelta(days=40)
    low = max(upstream.key_for_time(downstream.window(down_keys[0])[0] - margin), upstream.start)
    high = upstream.key_for_time(downstream.window(down_keys[-1])[1] + margin)
    up_keys = upstream.key_range(str(low), high)
    assert {key for keys in reads.values() for key in keys} <= set(up_keys)
    for up_key in up_keys:
        readers = set(mapping.downstream_keys(up_key, upstream=upstream,
                                              downstream=downstream)) & set(down_keys)
        assert readers == {key for key, keys in reads.items() if up_key in keys}, up_key

"""Key generation and mapping for 100,000 downstream keys completes (no timing assertion)."""

from __future__ import annotations

from datetime import UTC, datetime

from flowstone_cli.partitions import (
    DailyPartitions,
    HourlyPartitions,
    LastNWindowsMapping,
    MultiPartitionMapping,
    MultiPartitions,
    StaticPartitions,
    TimeWindowMapping,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
STEPS = 100_000


def test_hourly_keys_and_yesterday_mapping_for_100k_steps() -> None:
    hourly = HourlyPartitions(start="2014-01-01", timezone="Europe/Berlin")
    keys = hourly.keys(now=NOW)[:STEPS]
    assert len(keys) == STEPS
    mapping = TimeWindowMapping(-1, -1)
    read = sum(len(mapping.upstream_keys(key, downstream=hourly, upstream=hourly)) for key in keys)
    assert read == STEPS - 1


def test_daily_last_seven_mapping_for_100k_steps() -> None:
    daily = DailyPartitions(start="1750-01-01")
    keys = daily.keys(now=NOW)[:STEPS]
    assert len(keys) == STEPS
    mapping = LastNWindowsMapping(7)
    assert all(mapping.upstream_keys(key,
                                     downstream=daily, upstream=daily)[-1] == key for key in keys)


def test_multi_per_dimension_mapping_for_100k_steps() -> None:
    multi = MultiPartitions(tenant=StaticPartitions([f"t{i:02d}" for i in range(50)]),
                            date=DailyPartitions(start="2020-01-01"))
    keys = multi.keys(now=NOW)[:STEPS]
    assert len(keys) == STEPS
    mapping = MultiPartitionMapping(date=TimeWindowMapping(-1, -1))
    read = sum(len(mapping.upstream_keys(key, downstream=multi, upstream=multi)) for key in keys)
    first_days = sum(1 for key in keys if key.endswith("date=2020-01-01"))
    assert read == STEPS - first_days  # each tenant's first day has no yesterday

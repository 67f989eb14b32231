"""FlowStone: asset-first data orchestration that lives on the command line.

Import what asset modules need from here: `asset`, `Output`, `RetryPolicy`, `AssetContext`,
and (as they land) partitions, checkpoints, schedules and sensors. Names are loaded lazily so
that `flowstone --help` does not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from flowstone_cli._version import __version__

_EXPORTS = {
    "asset": "flowstone_cli.definitions.asset",
    "AssetSpec": "flowstone_cli.definitions.asset",
    "AssetContext": "flowstone_cli.definitions.context",
    "Output": "flowstone_cli.definitions.output",
    "RetryPolicy": "flowstone_cli.definitions.output",
    "Definitions": "flowstone_cli.definitions.definitions",
    "FlowStoneError": "flowstone_cli.errors",
    "RateLimited": "flowstone_cli.errors",
    "Resource": "flowstone_cli.resources.base",
    "checkpoint": "flowstone_cli.definitions.checkpoint",
    "CheckpointSpec": "flowstone_cli.definitions.checkpoint",
    "schedule": "flowstone_cli.definitions.automation",
    "sensor": "flowstone_cli.definitions.automation",
    "RunRequest": "flowstone_cli.definitions.automation",
    "SkipReason": "flowstone_cli.definitions.automation",
    "ScheduleSpec": "flowstone_cli.definitions.automation",
    "SensorSpec": "flowstone_cli.definitions.automation",
    "SensorContext": "flowstone_cli.definitions.automation",
    "FileSensor": "flowstone_cli.automation.sensors",
    "AssetSensor": "flowstone_cli.automation.sensors",
    "IOManager": "flowstone_cli.io.base",
    "StoreContext": "flowstone_cli.io.base",
    "StoredValue": "flowstone_cli.io.base",
    "DailyPartitions": "flowstone_cli.partitions",
    "HourlyPartitions": "flowstone_cli.partitions",
    "WeeklyPartitions": "flowstone_cli.partitions",
    "MonthlyPartitions": "flowstone_cli.partitions",
    "StaticPartitions": "flowstone_cli.partitions",
    "MultiPartitions": "flowstone_cli.partitions",
    "DynamicPartitions": "flowstone_cli.partitions",
    "IdentityMapping": "flowstone_cli.partitions",
    "TimeWindowMapping": "flowstone_cli.partitions",
    "LastNWindowsMapping": "flowstone_cli.partitions",
    "AllPartitionsMapping": "flowstone_cli.partitions",
    "UnpartitionedMapping": "flowstone_cli.partitions",
    "MultiPartitionMapping": "flowstone_cli.partitions",
    "DimensionMapping": "flowstone_cli.partitions",
    "asset_check": "flowstone_cli.definitions.checks",
    "AssetCheckSpec": "flowstone_cli.definitions.checks",
    "CheckResult": "flowstone_cli.definitions.checks",
    "not_null": "flowstone_cli.definitions.builtin_checks",
    "unique": "flowstone_cli.definitions.builtin_checks",
    "accepted_values": "flowstone_cli.definitions.builtin_checks",
    "row_count": "flowstone_cli.definitions.builtin_checks",
    "freshness": "flowstone_cli.definitions.builtin_checks",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flowstone_cli' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

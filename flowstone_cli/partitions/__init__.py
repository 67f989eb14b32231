"""Partition definitions, canonical partition keys, time windows and mappings between assets.

Definitions (`DailyPartitions`, `StaticPartitions`, `MultiPartitions`, ...) say which keys an
asset has and where each key is stored; mappings say which upstream partitions a downstream
partition reads. Pure logic over the standard library: no I/O, no clock unless `now` is omitted.
"""

from flowstone_cli.partitions.default_mappings import default_mapping
from flowstone_cli.partitions.definitions import (
    DynamicKeys,
    DynamicPartitions,
    PartitionsDefinition,
    StaticPartitions,
)
from flowstone_cli.partitions.mappings import (
    AllPartitionsMapping,
    IdentityMapping,
    LastNWindowsMapping,
    PartitionMapping,
    TimeWindowMapping,
    UnpartitionedMapping,
    crosses_dimension,
)
from flowstone_cli.partitions.multi import MultiPartitions
from flowstone_cli.partitions.multi_mappings import DimensionMapping, MultiPartitionMapping
from flowstone_cli.partitions.ranges import parse_partition_range
from flowstone_cli.partitions.time_granularities import (
    DailyPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    WeeklyPartitions,
)
from flowstone_cli.partitions.time_windows import TimeWindowPartitions

__all__ = [
    "AllPartitionsMapping",
    "DailyPartitions",
    "DimensionMapping",
    "DynamicKeys",
    "DynamicPartitions",
    "HourlyPartitions",
    "IdentityMapping",
    "LastNWindowsMapping",
    "MonthlyPartitions",
    "MultiPartitionMapping",
    "MultiPartitions",
    "PartitionMapping",
    "PartitionsDefinition",
    "StaticPartitions",
    "TimeWindowMapping",
    "TimeWindowPartitions",
    "UnpartitionedMapping",
    "WeeklyPartitions",
    "crosses_dimension",
    "default_mapping",
    "parse_partition_range",
]

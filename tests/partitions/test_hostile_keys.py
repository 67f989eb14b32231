"""Keys that could escape a storage root are refused by every definition (RELIABILITY #13)."""

from __future__ import annotations

import unicodedata

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    MonthlyPartitions,
    MultiPartitions,
    PartitionsDefinition,
    StaticPartitions,
    WeeklyPartitions,
)

HOSTILE = [
    "../x", "/etc", "/etc/passwd", "a\x00b", "a" * 300, unicodedata.normalize("NFD", "é"),
    "é", "a/b", "..", ".", "a\\b", "", " acme", "acme\n", "2025-01-15\n", "tenant=acme",
    "a,b",
]

DEFINITIONS: list[PartitionsDefinition] = [
    DailyPartitions(start="2025-01-01"),
    HourlyPartitions(start="2025-01-01"),
    WeeklyPartitions(start="2025-01-06"),
    MonthlyPartitions(start="2025-01"),
    StaticPartitions(["acme", "globex"]),
    DynamicPartitions("customers"),
    MultiPartitions(tenant=StaticPartitions(["acme"]), customer=DynamicPartitions("customers")),
]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.kind)
@pytest.mark.parametrize("key", HOSTILE, ids=repr)
def test_validate_key_refuses_hostile_keys(definition: PartitionsDefinition, key: str) -> None:
    with pytest.raises(PartitionError):
        definition.validate_key(key, dynamic_keys={"customers": [key]}, check_range=False)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.kind)
@pytest.mark.parametrize("key", HOSTILE, ids=repr)
def test_path_for_refuses_hostile_keys(definition: PartitionsDefinition, key: str) -> None:
    with pytest.raises(PartitionError):
        definition.path_for(key)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.kind)
@pytest.mark.parametrize("path", ["../x", "/etc", "a/../b", "tenant=acme/../../x", "a\x00b"])
def test_key_from_path_refuses_hostile_paths(definition: PartitionsDefinition,
                                             path: str) -> None:
    with pytest.raises(PartitionError):
        definition.key_from_path(path)


@pytest.mark.parametrize("key", [
    "tenant=../x,customer=c1", "tenant=acme,customer=/etc", "tenant=acme,customer=a\x00b",
    "tenant=acme,customer=" + "c" * 250,
])
def test_multi_refuses_hostile_dimension_values(key: str) -> None:
    with pytest.raises(PartitionError):
        DEFINITIONS[-1].validate_key(key, check_range=False)


def test_error_message_shortens_a_very_long_key() -> None:
    with pytest.raises(PartitionError) as caught:
        DailyPartitions(start="2025-01-01").validate_key("x" * 10_000)
    assert len(caught.value.message) < 200


def test_non_string_keys_are_refused_with_partition_error() -> None:
    for definition in DEFINITIONS:
        with pytest.raises(PartitionError):
            definition.validate_key(None)  # type: ignore[arg-type]

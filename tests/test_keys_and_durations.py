"""Safe names and keys; durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowstone_cli.durations import parse_duration
from flowstone_cli.errors import InvalidNameError, UsageError
from flowstone_cli.keys import validate_asset_name, validate_partition_key_part


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a/b", "class", "é", "x" * 129])
def test_invalid_asset_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_asset_name(name)


@pytest.mark.parametrize("key", ["../x", "/etc", "a\x00b", "x" * 300, "e\u0301", "..", ".",
                                 "a/b", "a\\b", " lead"])
def test_hostile_partition_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_partition_key_part(key)


@pytest.mark.parametrize("key", ["2025-01-15", "2025-01-15T03:00", "acme", "eu-west-1", "v1.2"])
def test_ordinary_partition_keys_pass(key: str) -> None:
    assert validate_partition_key_part(key) == key


def test_durations_parse() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration(2) == timedelta(seconds=2)
    for bad in ("", "ten minutes", "0s", "5x"):
        with pytest.raises(UsageError):
            parse_duration(bad)

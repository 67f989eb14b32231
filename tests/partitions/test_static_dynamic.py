"""Static and dynamic partitions, and `START..END` range parsing."""

from __future__ import annotations

import pickle

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import DynamicPartitions, StaticPartitions, parse_partition_range

TENANTS = StaticPartitions(["acme", "globex", "initech"])


def test_static_keys_keep_declaration_order() -> None:
    assert TENANTS.keys() == ["acme", "globex", "initech"]


def test_static_definitions_compare_and_hash_by_value() -> None:
    again = StaticPartitions(("acme", "globex", "initech"))
    assert again == TENANTS and hash(again) == hash(TENANTS)
    assert StaticPartitions(["globex", "acme", "initech"]) != TENANTS


def test_static_definition_pickles_without_its_lookup_cache() -> None:
    TENANTS.validate_key("acme")
    restored = pickle.loads(pickle.dumps(TENANTS))
    assert restored == TENANTS and restored.validate_key("globex") == "globex"


def test_static_duplicate_keys_are_refused() -> None:
    with pytest.raises(PartitionError, match="acme.*more than once"):
        StaticPartitions(["acme", "globex", "acme"])


def test_static_needs_a_list_not_a_string() -> None:
    with pytest.raises(PartitionError, match="list of keys"):
        StaticPartitions("acme")


def test_static_needs_at_least_one_key() -> None:
    with pytest.raises(PartitionError, match="at least one"):
        StaticPartitions([])


def test_static_unsafe_key_is_refused_at_construction() -> None:
    with pytest.raises(PartitionError, match="not allowed"):
        StaticPartitions(["acme", "../evil"])


def test_static_unknown_key_lists_the_valid_ones() -> None:
    with pytest.raises(PartitionError, match="acme, globex, initech"):
        TENANTS.validate_key("umbrella")


def test_static_unknown_but_safe_key_passes_without_range_check() -> None:
    assert TENANTS.validate_key("umbrella", check_range=False) == "umbrella"


def test_static_key_range_follows_declaration_order() -> None:
    assert TENANTS.key_range("globex", "initech") == ["globex", "initech"]
    with pytest.raises(PartitionError, match="backwards"):
        TENANTS.key_range("initech", "acme")


def test_static_path_escapes_colons_reversibly() -> None:
    zones = StaticPartitions(["eu:west", "us east"])
    assert zones.path_for("eu:west") == "eu%3Awest"
    assert zones.key_from_path("eu%3Awest") == "eu:west"
    assert zones.path_for("us east") == "us east"


def test_static_describe_lists_a_few_keys() -> None:
    many = StaticPartitions([f"t{i}" for i in range(12)])
    assert many.describe() == "static (t0, t1, t2, t3, t4, ... (12 keys))"


def test_dynamic_keys_come_from_the_caller() -> None:
    customers = DynamicPartitions("customers")
    assert customers.keys(dynamic_keys={"customers": ["c1", "c2"]}) == ["c1", "c2"]


def test_dynamic_keys_of_an_unknown_name_are_empty() -> None:
    assert DynamicPartitions("customers").keys(dynamic_keys={"other": ["x"]}) == []
    assert DynamicPartitions("customers").keys() == []


def test_dynamic_validate_key_checks_safety_not_membership() -> None:
    customers = DynamicPartitions("customers")
    assert customers.validate_key("new-customer", dynamic_keys={"customers": []}) == \
        "new-customer"
    with pytest.raises(PartitionError):
        customers.validate_key("a/b")


def test_dynamic_stored_unsafe_key_is_refused_when_listed() -> None:
    with pytest.raises(PartitionError):
        DynamicPartitions("customers").keys(dynamic_keys={"customers": ["ok", "../x"]})


def test_dynamic_name_must_be_an_identifier() -> None:
    with pytest.raises(PartitionError, match="not a valid name"):
        DynamicPartitions("my customers")


def test_dynamic_key_range_uses_registered_order() -> None:
    customers = DynamicPartitions("customers")
    registered = {"customers": ["c3", "c1", "c2"]}
    assert customers.key_range("c1", "c2", dynamic_keys=registered) == ["c1", "c2"]
    with pytest.raises(PartitionError, match="not registered"):
        customers.key_range("c1", "c9", dynamic_keys=registered)


def test_parse_partition_range_splits_on_two_dots() -> None:
    assert parse_partition_range("2025-01-01..2025-01-31") == ("2025-01-01", "2025-01-31")
    assert parse_partition_range(" acme .. globex ") == ("acme", "globex")


@pytest.mark.parametrize("text", ["2025-01-01", "..2025-01-31", "2025-01-01..", "a..b..c", ""])
def test_parse_partition_range_refuses_malformed_ranges(text: str) -> None:
    with pytest.raises(PartitionError) as caught:
        parse_partition_range(text)
    assert caught.value.hint

"""Multi-dimensional partitions: canonical keys, any-order parsing, products and hive paths."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    DailyPartitions,
    DynamicPartitions,
    HourlyPartitions,
    MultiPartitions,
    StaticPartitions,
)

NOW = datetime(2025, 1, 3, tzinfo=UTC)
DAILY = DailyPartitions(start="2025-01-01")
TENANTS = StaticPartitions(["acme", "globex"])
REGIONS = StaticPartitions(["eu", "us"])
MULTI = MultiPartitions(tenant=TENANTS, region=REGIONS, date=DAILY)


def test_keys_are_the_product_in_declaration_order() -> None:
    keys = MultiPartitions(tenant=TENANTS, date=DAILY).keys(now=NOW)
    assert keys == ["tenant=acme,date=2025-01-01", "tenant=acme,date=2025-01-02",
                    "tenant=globex,date=2025-01-01", "tenant=globex,date=2025-01-02"]


def test_three_dimensions_multiply() -> None:
    assert len(MULTI.keys(now=NOW)) == 2 * 2 * 2


def test_validate_key_accepts_any_dimension_order() -> None:
    assert MULTI.validate_key("date=2025-01-02,region=eu,tenant=acme") == \
        "tenant=acme,region=eu,date=2025-01-02"


@pytest.mark.parametrize(("key", "fragment"), [
    ("tenant=acme,region=eu", "lacks dimension date"),
    ("tenant=acme,region=eu,date=2025-01-02,tenant=acme", "twice"),
    ("tenant=acme,region=eu,date=2025-01-02,color=red", "unknown dimension"),
    ("tenant=acme,region=eu,2025-01-02", "not valid"),
    ("", "not valid"),
])
def test_validate_key_refuses_missing_duplicate_and_unknown_dimensions(key: str,
                                                                       fragment: str) -> None:
    with pytest.raises(PartitionError, match=fragment) as caught:
        MULTI.validate_key(key)
    assert "tenant=" in caught.value.hint  # shows the expected shape


def test_validate_key_checks_each_dimension() -> None:
    with pytest.raises(PartitionError, match="not one of the static"):
        MULTI.validate_key("tenant=umbrella,region=eu,date=2025-01-02")
    with pytest.raises(PartitionError, match="out of range"):
        MULTI.validate_key("tenant=acme,region=eu,date=2024-01-02")


def test_key_dict_returns_parts_in_declaration_order() -> None:
    parts = MULTI.key_dict("date=2025-01-02,tenant=acme,region=us")
    assert list(parts.items()) == [("tenant", "acme"), ("region", "us"), ("date", "2025-01-02")]


def test_path_is_hive_style_in_declaration_order() -> None:
    assert MULTI.path_for("date=2025-01-02,tenant=acme,region=eu") == \
        "tenant=acme/region=eu/date=2025-01-02"


def test_path_for_and_key_from_path_are_inverse() -> None:
    multi = MultiPartitions(tenant=TENANTS, hour=HourlyPartitions(start="2025-01-01"))
    for key in multi.keys(now=datetime(2025, 1, 1, 5, tzinfo=UTC)):
        path = multi.path_for(key)
        assert ":" not in path
        assert multi.key_from_path(path) == key


def test_key_from_a_malformed_path_is_refused() -> None:
    with pytest.raises(PartitionError):
        MULTI.key_from_path("tenant=acme/date=2025-01-02")
    with pytest.raises(PartitionError):
        MULTI.key_from_path("tenant=acme/region=eu/../date=2025-01-02")


def test_dimension_names_and_time_dimension() -> None:
    assert MULTI.dimension_names == ("tenant", "region", "date")
    assert MULTI.time_dimension == "date"
    assert MultiPartitions(tenant=TENANTS, region=REGIONS).time_dimension is None


def test_dynamic_dimension_takes_keys_from_the_caller() -> None:
    multi = MultiPartitions(customer=DynamicPartitions("customers"), region=REGIONS)
    assert multi.keys(dynamic_keys={"customers": ["c1"]}) == ["customer=c1,region=eu",
                                                              "customer=c1,region=us"]
    assert multi.keys() == []


def test_key_range_spans_each_dimension() -> None:
    multi = MultiPartitions(tenant=TENANTS, date=DAILY)
    assert multi.key_range("tenant=acme,date=2025-01-01", "tenant=globex,date=2025-01-02") == \
        multi.keys(now=NOW)


def test_keys_matching_restricts_some_dimensions() -> None:
    multi = MultiPartitions(tenant=TENANTS, date=DAILY)
    assert multi.keys_matching({"date": ["2025-01-02"]}, now=NOW) == [
        "tenant=acme,date=2025-01-02", "tenant=globex,date=2025-01-02"]


def test_declaration_order_matters_for_equality() -> None:
    assert MultiPartitions(tenant=TENANTS, date=DAILY) == MultiPartitions(tenant=TENANTS,
                                                                          date=DAILY)
    assert MultiPartitions(tenant=TENANTS, date=DAILY) != MultiPartitions(date=DAILY,
                                                                          tenant=TENANTS)


def test_multi_pickles_to_an_equal_definition() -> None:
    MULTI.validate_key("tenant=acme,region=eu,date=2025-01-02")
    restored = pickle.loads(pickle.dumps(MULTI))
    assert restored == MULTI and restored.time_dimension == "date"


def test_describe_lists_each_dimension() -> None:
    text = MultiPartitions(tenant=TENANTS, date=DAILY).describe()
    assert text == "multi: tenant (static (acme, globex)) x date (daily from 2025-01-01 (UTC))"


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"tenant": TENANTS}, "at least two"),
    ({"tenant": TENANTS, "date": "daily"}, "not a single-dimension"),
    ({"tenant": TENANTS, "inner": MultiPartitions(a=TENANTS, b=REGIONS)}, "not a single"),
    ({"day": DAILY, "hour": HourlyPartitions(start="2025-01-01")}, "more than one time"),
    ({"tenant": TENANTS, "Tenant-Id": REGIONS}, "not a valid name"),
])
def test_bad_dimensions_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(PartitionError, match=fragment):
        MultiPartitions(**kwargs)  # type: ignore[arg-type]

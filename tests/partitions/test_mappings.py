"""Identity, all-partitions and unpartitioned mappings, and `default_mapping`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    AllPartitionsMapping,
    DailyPartitions,
    DimensionMapping,
    DynamicPartitions,
    HourlyPartitions,
    IdentityMapping,
    MonthlyPartitions,
    MultiPartitionMapping,
    MultiPartitions,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowMapping,
    UnpartitionedMapping,
    default_mapping,
)

NOW = datetime(2025, 1, 4, tzinfo=UTC)
DAILY = DailyPartitions(start="2025-01-01")
TENANTS = StaticPartitions(["acme", "globex"])
TENANT_DAYS = MultiPartitions(tenant=TENANTS, date=DAILY)


def test_identity_reads_the_same_key() -> None:
    assert IdentityMapping().upstream_keys("2025-01-02",
                                           downstream=DAILY, upstream=DAILY) == ["2025-01-02"]
    assert IdentityMapping().downstream_keys("2025-01-02",
                                             upstream=DAILY, downstream=DAILY) == ["2025-01-02"]


def test_identity_between_unpartitioned_assets_reads_the_one_value() -> None:
    assert IdentityMapping().upstream_keys(None, downstream=None, upstream=None) == [None]


def test_identity_drops_keys_the_upstream_lacks() -> None:
    more = StaticPartitions(["acme", "globex", "initech"])
    assert IdentityMapping().upstream_keys("acme", downstream=TENANTS, upstream=more) == ["acme"]
    assert IdentityMapping().downstream_keys("initech", upstream=more, downstream=TENANTS) == []


def test_identity_refuses_a_malformed_key() -> None:
    with pytest.raises(PartitionError):
        IdentityMapping().upstream_keys("../x", downstream=TENANTS, upstream=TENANTS)


def test_identity_canonicalises_multi_keys_to_the_upstream_order() -> None:
    reordered = MultiPartitions(date=DAILY, tenant=TENANTS)
    assert IdentityMapping().upstream_keys("tenant=acme,date=2025-01-02", downstream=TENANT_DAYS,
                                           upstream=reordered) == ["date=2025-01-02,tenant=acme"]


@pytest.mark.parametrize(("downstream", "upstream", "fragment"), [
    (TENANTS, StaticPartitions(["acme"]), "downstream keys globex are not partitions"),
    (DAILY, MonthlyPartitions(start="2025-01"), "same granularity and time zone"),
    (DAILY, TENANTS, "same kind of partitions"),
    (DAILY, None, "on both sides or on neither"),
])
def test_identity_validate_names_the_mismatch(downstream: PartitionsDefinition | None,
                                              upstream: PartitionsDefinition | None,
                                              fragment: str) -> None:
    assert fragment in str(IdentityMapping().validate(downstream, upstream))


def test_identity_validate_accepts_compatible_definitions() -> None:
    assert IdentityMapping().validate(TENANTS, StaticPartitions(["globex", "acme", "x"])) is None
    assert IdentityMapping().validate(DAILY, DailyPartitions(start="2024-01-01")) is None
    assert IdentityMapping().validate(TENANT_DAYS, MultiPartitions(date=DAILY,
                                                                   tenant=TENANTS)) is None


def test_all_partitions_reads_every_upstream_key() -> None:
    keys = AllPartitionsMapping().upstream_keys(None, downstream=None, upstream=DAILY, now=NOW)
    assert keys == ["2025-01-01", "2025-01-02", "2025-01-03"]


def test_all_partitions_of_a_dynamic_upstream_uses_the_given_keys() -> None:
    customers = DynamicPartitions("customers")
    assert AllPartitionsMapping().upstream_keys(
        "acme", downstream=TENANTS, upstream=customers,
        dynamic_keys={"customers": ["c1", "c2"]}) == ["c1", "c2"]


def test_all_partitions_inverse_is_every_downstream_key() -> None:
    assert AllPartitionsMapping().downstream_keys("2025-01-02",
                                                  upstream=DAILY, downstream=None) == [None]
    assert AllPartitionsMapping().downstream_keys("2025-01-02",
                                                  upstream=DAILY, downstream=TENANTS) == [
        "acme", "globex"]


def test_unpartitioned_upstream_is_read_by_every_key() -> None:
    assert UnpartitionedMapping().upstream_keys("2025-01-02",
                                                downstream=DAILY, upstream=None) == [None]
    assert UnpartitionedMapping().downstream_keys(None,
                                                  upstream=None, downstream=DAILY, now=NOW) == [
        "2025-01-01", "2025-01-02", "2025-01-03"]


def test_unpartitioned_mapping_refuses_a_partitioned_upstream() -> None:
    assert "AllPartitionsMapping" in str(UnpartitionedMapping().validate(DAILY, TENANTS))
    with pytest.raises(PartitionError, match="unpartitioned upstream"):
        UnpartitionedMapping().upstream_keys("2025-01-02", downstream=DAILY, upstream=TENANTS)


UTC_HOURLY = HourlyPartitions(start="2025-01-01")
BERLIN_DAILY = DailyPartitions(start="2025-01-01", timezone="Europe/Berlin")
REGIONS = StaticPartitions(["eu", "us"])


@pytest.mark.parametrize(("downstream", "upstream", "expected"), [
    pytest.param(DAILY, DailyPartitions(start="2025-01-01"), IdentityMapping(), id="equal"),
    pytest.param(None, None, IdentityMapping(), id="both unpartitioned"),
    pytest.param(DAILY, None, UnpartitionedMapping(), id="unpartitioned upstream"),
    pytest.param(None, DAILY, AllPartitionsMapping(), id="unpartitioned downstream"),
    pytest.param(DAILY, DailyPartitions(start="2024-01-01"), TimeWindowMapping(),
                 id="daily, other start"),
    pytest.param(MonthlyPartitions(start="2025-01"), DAILY, TimeWindowMapping(),
                 id="monthly<-daily"),
    pytest.param(DAILY, UTC_HOURLY, TimeWindowMapping(), id="daily<-hourly"),
    pytest.param(TENANT_DAYS, DAILY, DimensionMapping(dimension="date"), id="multi<-single"),
    pytest.param(DAILY, TENANT_DAYS, DimensionMapping(dimension="date"), id="single<-multi"),
    pytest.param(TENANTS, TENANT_DAYS, DimensionMapping(dimension="tenant"),
                 id="tenants<-multi"),
    pytest.param(TENANT_DAYS, MultiPartitions(date=DAILY, tenant=TENANTS),
                 MultiPartitionMapping(), id="multi, other order"),
    pytest.param(MultiPartitions(tenant=TENANTS, month=MonthlyPartitions(start="2025-01")),
                 MultiPartitions(tenant=TENANTS, month=DAILY),
                 MultiPartitionMapping(month=TimeWindowMapping()), id="multi per dimension"),
])
def test_default_mapping_table(downstream: PartitionsDefinition | None,
                               upstream: PartitionsDefinition | None,
                               expected: PartitionMapping) -> None:
    mapping = default_mapping(downstream, upstream)
    assert mapping == expected
    assert mapping is not None and mapping.validate(downstream, upstream) is None


@pytest.mark.parametrize(("downstream", "upstream"), [
    pytest.param(DAILY, TENANTS, id="daily<-static"),
    pytest.param(TENANTS, StaticPartitions(["acme"]), id="static<-other static"),
    pytest.param(DAILY, BERLIN_DAILY, id="different zones"),
    pytest.param(TENANT_DAYS, MonthlyPartitions(start="2025-01"), id="no equal dimension"),
    pytest.param(MultiPartitions(a=TENANTS, b=TENANTS), TENANTS, id="two equal dimensions"),
    pytest.param(TENANT_DAYS, MultiPartitions(region=REGIONS, date=DAILY), id="other dims"),
    pytest.param(TENANT_DAYS, MultiPartitions(tenant=REGIONS, date=DAILY),
                 id="dimension without default"),
    pytest.param(DynamicPartitions("a"), DynamicPartitions("b"), id="two dynamic names"),
])
def test_default_mapping_is_none_for_incompatible_pairs(
        downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    assert default_mapping(downstream, upstream) is None


def test_mapping_definitions_are_keyword_only_so_they_cannot_be_swapped() -> None:
    with pytest.raises(TypeError):
        IdentityMapping().upstream_keys("2025-01-01", DAILY, DAILY)  # type: ignore[misc]
    assert IdentityMapping().downstream_keys("2025-01-01", upstream=DAILY,
                                             downstream=DAILY) == ["2025-01-01"]

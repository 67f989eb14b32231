"""Per-dimension and dimension-to-single mappings, their inverses, and tenant isolation."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions import (
    AllPartitionsMapping,
    DailyPartitions,
    DimensionMapping,
    IdentityMapping,
    LastNWindowsMapping,
    MonthlyPartitions,
    MultiPartitionMapping,
    MultiPartitions,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitions,
    TimeWindowMapping,
    UnpartitionedMapping,
    crosses_dimension,
)

NOW = datetime(2025, 1, 6, tzinfo=UTC)
DAILY = DailyPartitions(start="2025-01-01")
TENANTS = StaticPartitions(["acme", "globex"])
TENANT_DAYS = MultiPartitions(tenant=TENANTS, date=DAILY)
YESTERDAY = MultiPartitionMapping(date=TimeWindowMapping(-1, -1))


def test_per_dimension_mapping_shifts_only_its_dimension() -> None:
    assert YESTERDAY.upstream_keys("tenant=acme,date=2025-01-03",
                                   downstream=TENANT_DAYS, upstream=TENANT_DAYS) == [
        "tenant=acme,date=2025-01-02"]


def test_per_dimension_mapping_products_what_each_dimension_reads() -> None:
    mapping = MultiPartitionMapping(tenant=AllPartitionsMapping(),
                                    date=TimeWindowMapping(-1, 0))
    assert mapping.upstream_keys("tenant=acme,date=2025-01-03",
                                 downstream=TENANT_DAYS, upstream=TENANT_DAYS,
                                 now=NOW) == [
        "tenant=acme,date=2025-01-02", "tenant=acme,date=2025-01-03",
        "tenant=globex,date=2025-01-02", "tenant=globex,date=2025-01-03"]


def test_per_dimension_mapping_writes_keys_in_the_upstream_order() -> None:
    reordered = MultiPartitions(date=DAILY, tenant=TENANTS)
    assert YESTERDAY.upstream_keys("tenant=acme,date=2025-01-03",
                                   downstream=TENANT_DAYS, upstream=reordered) == [
        "date=2025-01-02,tenant=acme"]


def test_per_dimension_mapping_of_the_first_day_reads_nothing() -> None:
    assert YESTERDAY.upstream_keys("tenant=acme,date=2025-01-01",
                                   downstream=TENANT_DAYS, upstream=TENANT_DAYS) == []


def test_per_dimension_mappings_compare_whatever_the_keyword_order() -> None:
    first = MultiPartitionMapping(a=IdentityMapping(), b=AllPartitionsMapping())
    assert first == MultiPartitionMapping(b=AllPartitionsMapping(), a=IdentityMapping())


def test_used_mapping_pickles_to_an_equal_mapping() -> None:
    YESTERDAY.upstream_keys("tenant=acme,date=2025-01-03",
                            downstream=TENANT_DAYS, upstream=TENANT_DAYS)
    restored = pickle.loads(pickle.dumps(YESTERDAY))
    assert restored == YESTERDAY
    assert restored.upstream_keys("tenant=acme,date=2025-01-03",
                                  downstream=TENANT_DAYS, upstream=TENANT_DAYS) == [
        "tenant=acme,date=2025-01-02"]


def test_per_dimension_mapping_needs_mappings() -> None:
    with pytest.raises(PartitionError, match="not a partition mapping"):
        MultiPartitionMapping(date="yesterday")  # type: ignore[arg-type]


@pytest.mark.parametrize(("mapping", "downstream", "upstream", "fragment"), [
    (YESTERDAY, TENANT_DAYS, DAILY, "multi partitions on both sides"),
    (YESTERDAY, TENANT_DAYS, MultiPartitions(region=TENANTS, date=DAILY), "same dimensions"),
    (MultiPartitionMapping(day=IdentityMapping()), TENANT_DAYS, TENANT_DAYS,
     "maps dimension day"),
    (MultiPartitionMapping(tenant=TimeWindowMapping()), TENANT_DAYS, TENANT_DAYS,
     "dimension 'tenant': TimeWindowMapping needs time partitions"),
])
def test_per_dimension_validate_names_the_problem(mapping: PartitionMapping,
                                                  downstream: PartitionsDefinition,
                                                  upstream: PartitionsDefinition,
                                                  fragment: str) -> None:
    assert fragment in str(mapping.validate(downstream, upstream))


def test_single_downstream_reads_one_date_of_every_tenant() -> None:
    keys = DimensionMapping("date").upstream_keys("2025-01-03",
                                                  downstream=DAILY, upstream=TENANT_DAYS, now=NOW)
    assert keys == ["tenant=acme,date=2025-01-03", "tenant=globex,date=2025-01-03"]


def test_single_downstream_reads_through_the_inner_mapping() -> None:
    mapping = DimensionMapping("date", TimeWindowMapping(-1, -1))
    assert mapping.upstream_keys("2025-01-03", downstream=DAILY, upstream=TENANT_DAYS) == [
        "tenant=acme,date=2025-01-02", "tenant=globex,date=2025-01-02"]


def test_monthly_downstream_reads_every_day_of_every_tenant() -> None:
    mapping = DimensionMapping("date", TimeWindowMapping())
    monthly = MonthlyPartitions(start="2025-01")
    assert len(mapping.upstream_keys("2025-01", downstream=monthly, upstream=TENANT_DAYS)) == 2 * 31


def test_multi_downstream_reads_its_date_of_a_single_upstream() -> None:
    assert DimensionMapping("date").upstream_keys("tenant=acme,date=2025-01-03",
                                                  downstream=TENANT_DAYS,
                                                  upstream=DAILY) == ["2025-01-03"]


def test_multi_downstream_reads_a_tenant_partitioned_upstream() -> None:
    assert DimensionMapping("tenant").upstream_keys(
        "tenant=globex,date=2025-01-03", downstream=TENANT_DAYS, upstream=TENANTS) == ["globex"]


def test_dimension_mapping_inverse_in_both_directions() -> None:
    mapping = DimensionMapping("date")
    assert mapping.downstream_keys("tenant=globex,date=2025-01-03",
                                   upstream=TENANT_DAYS, downstream=DAILY) == [
        "2025-01-03"]
    assert mapping.downstream_keys("2025-01-03", upstream=DAILY, downstream=TENANT_DAYS) == [
        "tenant=acme,date=2025-01-03", "tenant=globex,date=2025-01-03"]


@pytest.mark.parametrize(("downstream", "upstream", "fragment"), [
    (DAILY, DAILY, "links a single-dimension asset"),
    (TENANT_DAYS, TENANT_DAYS, "links a single-dimension asset"),
    (None, TENANT_DAYS, "downstream is unpartitioned"),
    (DAILY, MultiPartitions(tenant=TENANTS, region=TENANTS), "has no dimension 'date'"),
    (TENANTS, TENANT_DAYS, "DimensionMapping on 'date': IdentityMapping needs the same kind"),
])
def test_dimension_mapping_validate_names_the_problem(downstream: PartitionsDefinition | None,
                                                      upstream: PartitionsDefinition,
                                                      fragment: str) -> None:
    assert fragment in str(DimensionMapping("date").validate(downstream, upstream))


def test_dimension_mapping_refuses_to_map_an_unfit_pair() -> None:
    with pytest.raises(PartitionError, match="links a single-dimension asset"):
        DimensionMapping("date").upstream_keys("2025-01-03", downstream=DAILY, upstream=DAILY)


MULTI_INVERSE_CASES = [
    pytest.param(YESTERDAY, TENANT_DAYS, TENANT_DAYS, id="per-dimension yesterday"),
    pytest.param(MultiPartitionMapping(tenant=AllPartitionsMapping(),
                                       date=LastNWindowsMapping(2)),
                 TENANT_DAYS, TENANT_DAYS, id="all tenants, last 2 days"),
    pytest.param(DimensionMapping("date", TimeWindowMapping(-1, 0)), DAILY, TENANT_DAYS,
                 id="daily<-tenant x date"),
    pytest.param(DimensionMapping("date", TimeWindowMapping(-2, -1)), TENANT_DAYS, DAILY,
                 id="tenant x date<-daily"),
    pytest.param(DimensionMapping("month", TimeWindowMapping()),
                 MultiPartitions(tenant=TENANTS, month=MonthlyPartitions(start="2025-01")),
                 DAILY, id="tenant x month<-daily"),
]


@pytest.mark.parametrize(("mapping", "downstream", "upstream"), MULTI_INVERSE_CASES)
def test_multi_downstream_keys_are_the_exact_inverse(mapping: PartitionMapping,
                                                     downstream: PartitionsDefinition,
                                                     upstream: PartitionsDefinition) -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    down_keys = downstream.keys(now=now)
    reads = {key: mapping.upstream_keys(key, downstream=downstream, upstream=upstream, now=now)
             for key in down_keys}
    for up_key in upstream.keys(now=now):
        # The inverse may name downstream keys not complete at `now`; compare the listed ones.
        readers = set(mapping.downstream_keys(up_key,
                                              upstream=upstream, downstream=downstream, now=now))
        readers &= set(down_keys)
        assert readers == {key for key, keys in reads.items() if up_key in keys}, up_key


@pytest.mark.parametrize(("mapping", "downstream", "upstream", "dimension", "crosses"), [
    pytest.param(IdentityMapping(), TENANT_DAYS, TENANT_DAYS, "tenant", False, id="identity"),
    pytest.param(MultiPartitionMapping(), TENANT_DAYS, TENANT_DAYS, "tenant", False,
                 id="per-dimension, all identity"),
    pytest.param(YESTERDAY, TENANT_DAYS, TENANT_DAYS, "tenant", False,
                 id="yesterday keeps the tenant"),
    pytest.param(YESTERDAY, TENANT_DAYS, TENANT_DAYS, "date", True, id="yesterday moves date"),
    pytest.param(MultiPartitionMapping(tenant=AllPartitionsMapping()), TENANT_DAYS,
                 TENANT_DAYS, "tenant", True, id="all tenants"),
    pytest.param(AllPartitionsMapping(), None, TENANT_DAYS, "tenant", True,
                 id="unpartitioned reads all tenants"),
    pytest.param(AllPartitionsMapping(), None, DAILY, "tenant", False,
                 id="all of an upstream without tenants"),
    pytest.param(DimensionMapping("date"), DAILY, TENANT_DAYS, "tenant", True,
                 id="daily reads every tenant"),
    pytest.param(DimensionMapping("tenant"), TENANTS, TENANT_DAYS, "tenant", False,
                 id="tenant reads its own slice"),
    pytest.param(DimensionMapping("tenant", AllPartitionsMapping()), TENANTS, TENANT_DAYS,
                 "tenant", True, id="tenant reads every slice"),
    pytest.param(DimensionMapping("date"), TENANT_DAYS, DAILY, "tenant", False,
                 id="tenants read shared daily data"),
    pytest.param(DimensionMapping("tenant"), TENANT_DAYS, TENANTS, "tenant", False,
                 id="tenant reads its tenant-partitioned upstream"),
    pytest.param(UnpartitionedMapping(), TENANT_DAYS, None, "tenant", False,
                 id="unpartitioned upstream"),
    pytest.param(TimeWindowMapping(-1, -1), DAILY, DAILY, "tenant", False, id="time only"),
])
def test_crosses_dimension(mapping: PartitionMapping, downstream: PartitionsDefinition | None,
                           upstream: PartitionsDefinition | None, dimension: str,
                           crosses: bool) -> None:
    assert crosses_dimension(mapping, downstream, upstream, dimension) is crosses

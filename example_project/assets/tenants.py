"""Per-tenant data: orders by tenant x region x day, and a monthly roll-up across tenants."""

import random

from flowstone_cli import (
    DailyPartitions,
    DimensionMapping,
    MonthlyPartitions,
    MultiPartitions,
    StaticPartitions,
    TimeWindowMapping,
    asset,
)

TENANT_REGION_DAY = MultiPartitions(
    tenant=StaticPartitions(["acme", "globex"]),
    region=StaticPartitions(["eu", "us"]),
    date=DailyPartitions(start="2025-01-01"),
)


@asset(group="tenants", partitions=TENANT_REGION_DAY, tags={"tier": "bronze"})
def tenant_orders(context):
    """One tenant's orders in one region on one day (stored under tenant=/region=/date=)."""
    keys = context.partition_keys
    rng = random.Random(context.partition)
    return [{"tenant": keys["tenant"], "region": keys["region"], "day": keys["date"],
             "amount": round(rng.uniform(5, 500), 2)} for _ in range(rng.randrange(3, 9))]


@asset(group="tenants", io_manager="json", partitions=MonthlyPartitions(start="2025-01-01"),
       partition_mappings={"tenant_orders": DimensionMapping(dimension="date",
                                                             mapping=TimeWindowMapping())},
       cross_tenant=True, tags={"tier": "gold", "publish": "yes"})
def monthly_revenue(context, tenant_orders):
    """Revenue per tenant for the month: reads every tenant x region x day of the month."""
    totals = {}
    for orders in tenant_orders.values():          # keyed by upstream partition key
        for order in orders:
            totals[order["tenant"]] = round(totals.get(order["tenant"], 0) + order["amount"], 2)
    context.log.info(f"{context.partition}: {len(tenant_orders)} upstream partitions")
    return {"month": context.partition, "partitions_read": len(tenant_orders),
            "revenue": dict(sorted(totals.items()))}

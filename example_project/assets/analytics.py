"""Derived daily assets: cleaned events, daily metrics and the published report."""

from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from flowstone_cli import DailyPartitions, Output, RetryPolicy, asset

DAILY = DailyPartitions(start="2025-01-01")


@asset(group="analytics", io_manager="parquet", partitions=DAILY, tags={"tier": "silver"},
       retry=RetryPolicy(max_attempts=2, delay=0.1))
def cleaned_events(context, raw_events, user_profiles):
    """The day's events with invalid amounts removed, joined with the user's country."""
    valid = raw_events.filter(pc.greater_equal(raw_events["amount"], 0))
    country = {p["user_id"]: p["country"] for p in user_profiles}
    countries = [country.get(u, "??") for u in valid["user_id"].to_pylist()]
    cleaned = valid.append_column("country", pa.array(countries))
    context.log.info(f"kept {cleaned.num_rows} of {raw_events.num_rows} events")
    return cleaned


@asset(group="analytics", io_manager="warehouse", partitions=DAILY, tags={"tier": "gold"})
def daily_metrics(cleaned_events):
    """Per country for the day: events and revenue."""
    grouped = cleaned_events.group_by(["country"]).aggregate([("event_id", "count"),
                                                             ("amount", "sum")])
    return grouped.rename_columns(["country", "events", "revenue"]).sort_by("country")


@asset(group="analytics", io_manager="json", partitions=DAILY,
       tags={"tier": "gold", "publish": "yes"}, requires=["fx"])
def daily_report(context, daily_metrics):
    """A compact report of the day: revenue (USD) per country, the best country, and the
    total in the reporting currency."""
    revenue = defaultdict(float)
    for row in daily_metrics.to_pylist():
        revenue[row["country"]] += row["revenue"]
    best = max(revenue, key=revenue.get)
    fx = context.resources.fx
    context.log.info(f"{context.partition}: best country {best}")
    return Output({"day": context.partition, "best_country": best,
                   "revenue": {c: round(v, 2) for c, v in sorted(revenue.items())},
                   "total_revenue": round(sum(revenue.values()), 2),
                   "total_revenue_" + fx.base.lower(): round(fx.to_base(sum(revenue.values()),
                                                                       "USD"), 2)},
                  metadata={"countries": len(revenue)})

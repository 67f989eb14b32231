"""Derived assets: cleaned events, daily metrics and the published report."""

from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from flowstone_cli import Output, RetryPolicy, asset


@asset(group="analytics", io_manager="parquet", tags={"tier": "silver"},
       retry=RetryPolicy(max_attempts=2, delay=0.1))
def cleaned_events(context, raw_events, user_profiles):
    """Events with invalid amounts removed, joined with the user's country."""
    valid = raw_events.filter(pc.greater_equal(raw_events["amount"], 0))
    country = {p["user_id"]: p["country"] for p in user_profiles}
    countries = [country.get(u, "??") for u in valid["user_id"].to_pylist()]
    cleaned = valid.append_column("country", pa.array(countries))
    context.log.info(f"kept {cleaned.num_rows} of {raw_events.num_rows} events")
    return cleaned


@asset(group="analytics", io_manager="warehouse", tags={"tier": "gold"})
def daily_metrics(cleaned_events):
    """Per day and country: events, purchases and revenue."""
    days = pc.strftime(cleaned_events["ts"], format="%Y-%m-%d")
    table = cleaned_events.append_column("day", days)
    grouped = table.group_by(["day", "country"]).aggregate([
        ("event_id", "count"), ("amount", "sum")])
    return grouped.rename_columns(["day", "country", "events", "revenue"]).sort_by(
        [("day", "ascending"), ("country", "ascending")])


@asset(group="analytics", io_manager="json", tags={"tier": "gold", "publish": "yes"})
def daily_report(context, daily_metrics):
    """A compact report: revenue per day, and the best country overall."""
    revenue_by_day = defaultdict(float)
    revenue_by_country = defaultdict(float)
    for row in daily_metrics.to_pylist():
        revenue_by_day[row["day"]] += row["revenue"]
        revenue_by_country[row["country"]] += row["revenue"]
    best = max(revenue_by_country, key=revenue_by_country.get)
    report = {"days": {d: round(v, 2) for d, v in sorted(revenue_by_day.items())},
              "best_country": best,
              "total_revenue": round(sum(revenue_by_day.values()), 2)}
    context.log.info(f"best country: {best}")
    return Output(report, metadata={"days": len(revenue_by_day)})

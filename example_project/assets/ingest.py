"""Source assets: raw product events (one partition per day) and user profiles."""

import random
from datetime import timedelta

import pyarrow as pa

from flowstone_cli import DailyPartitions, asset

EVENT_TYPES = ["view", "click", "purchase", "refund"]
COUNTRIES = ["DE", "FR", "US", "JP"]
DAILY = DailyPartitions(start="2025-01-01")


@asset(group="ingest", io_manager="parquet", partitions=DAILY,
       tags={"source": "events", "tier": "bronze"})
def raw_events(context):
    """Raw events of one day as they arrive from the product's tracking endpoint."""
    day_start, _ = context.partition_window
    rng = random.Random(context.partition)          # deterministic per day
    rows = 400
    table = pa.table({
        "event_id": [f"{context.partition}-{i}" for i in range(rows)],
        "user_id": [rng.randrange(200) for _ in range(rows)],
        "event_type": [rng.choice(EVENT_TYPES) for _ in range(rows)],
        "amount": [round(rng.uniform(-5, 120), 2) for _ in range(rows)],
        "ts": [day_start + timedelta(seconds=rng.randrange(86_400)) for _ in range(rows)],
    })
    context.log.info(f"fetched {table.num_rows} events for {context.partition}")
    return table


@asset(group="ingest", io_manager="json", tags={"source": "crm", "tier": "bronze"})
def user_profiles():
    """User profiles exported from the CRM (not partitioned: every day reads the same)."""
    rng = random.Random(7)
    return [{"user_id": i, "country": rng.choice(COUNTRIES), "plan": rng.choice(["free", "pro"])}
            for i in range(200)]

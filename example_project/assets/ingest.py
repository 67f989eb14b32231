"""Source assets: raw product events and user profiles (generated, deterministic)."""

import random
from datetime import datetime, timedelta, timezone

import pyarrow as pa

from flowstone_cli import asset

EVENT_TYPES = ["view", "click", "purchase", "refund"]
COUNTRIES = ["DE", "FR", "US", "JP"]


@asset(group="ingest", io_manager="parquet", tags={"source": "events", "tier": "bronze"})
def raw_events(context):
    """Raw events as they arrive from the product's tracking endpoint."""
    rng = random.Random(42)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = 5_000
    table = pa.table({
        "event_id": list(range(rows)),
        "user_id": [rng.randrange(200) for _ in range(rows)],
        "event_type": [rng.choice(EVENT_TYPES) for _ in range(rows)],
        "amount": [round(rng.uniform(-5, 120), 2) for _ in range(rows)],
        "ts": [start + timedelta(minutes=rng.randrange(60 * 24 * 14)) for _ in range(rows)],
    })
    context.log.info(f"fetched {table.num_rows} events")
    return table


@asset(group="ingest", io_manager="json", tags={"source": "crm", "tier": "bronze"})
def user_profiles():
    """User profiles exported from the CRM."""
    rng = random.Random(7)
    return [{"user_id": i, "country": rng.choice(COUNTRIES), "plan": rng.choice(["free", "pro"])}
            for i in range(200)]

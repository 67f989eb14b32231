"""Partitioned assets, a checkpoint, a schedule and a sensor (see docs/partitions.md,
docs/approvals.md and docs/automation.md)."""

from flowstone_cli import DailyPartitions, FileSensor, asset, asset_check, checkpoint, schedule

DAILY = DailyPartitions(start="2025-01-01")


@asset(group="daily", io_manager="json", partitions=DAILY)
def visits(context):
    """One value per day: `context.partition` is the day, e.g. "2025-01-15"."""
    return {"day": context.partition, "visits": 100 + int(context.partition[-2:])}


@asset_check(asset="visits", blocking=True)
def visits_not_negative(visits):
    """A check runs right after its asset is stored; a blocking failure stops the downstream."""
    return visits["visits"] >= 0


@checkpoint(timeout="24h", on_timeout="reject", group="daily")
def visits_review(context, visits):
    """A person approves unusually busy days before they are published."""
    return visits["visits"] > 125


@asset(group="daily", io_manager="json", partitions=DAILY)
def published_visits(visits_review):
    """Receives the approved value of `visits` (one partition per day)."""
    return {**visits_review, "published": True}


# `flowstone tick`, called every minute from cron (see `flowstone cron`), runs these.
nightly = schedule(name="nightly", cron="0 3 * * *", target="+published_visits",
                   partition="latest", timezone="UTC")

inbox = FileSensor("inbox", pattern="inbox/*.csv", target="+published_visits",
                   partition_from=r"(\d{4}-\d{2}-\d{2})")

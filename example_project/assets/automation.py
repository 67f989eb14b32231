"""Automation: a nightly schedule and a sensor on an inbox folder, run by `flowstone tick`."""

from flowstone_cli import FileSensor, schedule

# Every night at 02:00 Berlin time, materialize yesterday's report and everything it needs.
nightly = schedule(name="nightly", cron="0 2 * * *", target="+daily_report",
                   partition="latest", timezone="Europe/Berlin")

# A file named like inbox/events-2025-01-15.csv re-runs that day's pipeline, once per file.
inbox = FileSensor("inbox", pattern="inbox/*.csv", target="+daily_report",
                   partition_from=r"(\d{4}-\d{2}-\d{2})", interval="1m")

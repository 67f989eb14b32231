"""Publishing: a person reviews unusual days before their report is published."""

from flowstone_cli import DailyPartitions, asset, checkpoint

LOW_REVENUE = 22_000


@checkpoint(timeout="24h", on_timeout="reject", escalate_after="4h", notify=["reviewers"],
            group="publishing")
def report_review(context, daily_report):
    """Days with unusually low revenue need a person's approval before they are published."""
    needs_review = daily_report["total_revenue"] < LOW_REVENUE
    if needs_review:
        context.log.warning(f"{context.partition}: revenue {daily_report['total_revenue']} "
                            f"is below {LOW_REVENUE}; asking for a review")
    return needs_review


@asset(group="publishing", io_manager="json", partitions=DailyPartitions(start="2025-01-01"),
       tags={"publish": "yes"})
def published_report(context, report_review):
    """The report as published: the reviewed value (or the reviewer's corrected one)."""
    return {**report_review, "published": True}

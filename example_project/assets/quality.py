"""Data quality: what correct data looks like, checked right after each value is stored."""

from flowstone_cli import CheckResult, accepted_values, asset_check, not_null, unique

# Blocking: a day whose events carry an unknown type or no user is not passed downstream;
# the next run recomputes it.
cleaned_event_types = accepted_values("cleaned_events", "event_type",
                                      ["view", "click", "purchase", "refund"], blocking=True)
cleaned_user_ids = not_null("cleaned_events", "user_id", blocking=True)
raw_event_ids = unique("raw_events", "event_id")


@asset_check(asset="daily_report", severity="warn")
def every_country_reported(report):
    """Warn (never block) when a country is missing from a day's report."""
    missing = sorted({"DE", "FR", "US", "JP"} - set(report["revenue"]))
    return CheckResult(passed=not missing, metadata={"missing": missing},
                       message=f"no revenue from {', '.join(missing)}" if missing else "")

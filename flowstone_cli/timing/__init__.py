"""Time rules shared by schedules and their validation: cron expressions, DST-correct fire
times and catch-up policies."""

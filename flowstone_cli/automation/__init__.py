"""Time- and event-driven automation: cron schedules, sensors, `flowstone tick`, checkpoint timeouts.
"""

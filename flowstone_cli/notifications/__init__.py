"""Notifications: tell people (a webhook, a program) about approval requests and failed runs."""

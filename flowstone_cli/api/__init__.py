"""The operations the CLI, the dashboard and users' tests call.

Thin functions that wire the project, planning, execution and metadata layers together.
"""

"""Turning a project folder into validated, plain objects.

Parses `flowstone.toml`, discovers and imports the asset modules, and validates the definitions.
"""

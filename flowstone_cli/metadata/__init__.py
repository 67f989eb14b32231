"""The metadata store: one DuckDB file holding runs, steps, lineage and events.

Only the coordinating process writes it, in short sessions that retry lock conflicts.
"""

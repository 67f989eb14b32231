"""The metadata store: one DuckDB file holding runs, steps, lineage and events.

Only the coordinating process writes it, in short sessions that retry lock conflicts.
`import flowstone_cli.metadata` does not import DuckDB; the first session does.
"""

from __future__ import annotations

from flowstone_cli.metadata.ids import new_id, new_run_id, utcnow
from flowstone_cli.metadata.migrations import CURRENT_SCHEMA_VERSION
from flowstone_cli.metadata.records import EventRecord, LineageRecord, RunRecord, StepRecord
from flowstone_cli.metadata.statuses import FINAL_STEP_STATUSES, EventLevel, RunStatus, StepStatus
from flowstone_cli.metadata.store import MetadataStore, StoreReader, StoreWriter

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "FINAL_STEP_STATUSES",
    "EventLevel",
    "EventRecord",
    "LineageRecord",
    "MetadataStore",
    "RunRecord",
    "RunStatus",
    "StepRecord",
    "StepStatus",
    "StoreReader",
    "StoreWriter",
    "new_id",
    "new_run_id",
    "utcnow",
]

"""A real metadata store filled with hand-made steps and lineage, for the lineage queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from flowstone_cli.metadata import (
    LineageRecord,
    MetadataStore,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def step(step_id: str, asset: str, partition: str | None, *, minute: int,
         status: StepStatus = StepStatus.SUCCEEDED, data: str | None = None,
         code: str = "cv1", wiped: bool = False, run: str = "run-1") -> StepRecord:
    """A finished step that ended `minute` minutes after T0."""
    return StepRecord(step_id=step_id, run_id=run, asset=asset, partition=partition, attempt=1,
                      status=status, started_at=T0 + timedelta(minutes=minute, seconds=-1),
                      ended_at=T0 + timedelta(minutes=minute), code_version=code,
                      data_version=data or f"d-{step_id}", io_manager="pickle", wiped=wiped)


def read(consumer: str, upstream: StepRecord) -> LineageRecord:
    """`consumer` read the materialization `upstream`."""
    return LineageRecord(consumer, upstream.step_id, upstream.asset, upstream.partition,
                         upstream.data_version)


Fill = Callable[[list[StepRecord], list[LineageRecord]], MetadataStore]


@pytest.fixture
def filled(tmp_path: Path) -> Fill:
    """Write the given steps (in runs named after their run ids) and lineage to a new store."""
    def fill(steps: list[StepRecord], lineage: list[LineageRecord]) -> MetadataStore:
        store = MetadataStore(tmp_path / "flowstone.duckdb")
        with store.writer() as writer:
            for run_id in sorted({s.run_id for s in steps}):
                writer.insert_run(RunRecord(run_id, RunStatus.SUCCEEDED, trigger="cli",
                                            actor="tester", host="here", started_at=T0,
                                            ended_at=T0 + timedelta(hours=1)))
            writer.insert_steps(steps)
            writer.insert_lineage(lineage)
        return store
    return fill

"""How the Dask executor reads what a finished future gave back."""

from __future__ import annotations

from types import SimpleNamespace

from flowstone_cli.execution.executors.base import synthetic_result
from flowstone_cli.execution.executors.dask import DaskExecutor
from flowstone_cli.execution.tasks import ResultStatus, StepTask


def test_a_gathered_result_counts_even_when_its_worker_died_since() -> None:
    # Seen under load: the step succeeded and its result was gathered, then the worker that
    # held it was killed and Dask marked the future "lost". The step must not fail for that.
    task = StepTask(step_id="s1", run_id="r", asset="summary", partition="2025-01-01", attempt=1)
    done = synthetic_result(task, ResultStatus.SUCCEEDED, None)
    executor = DaskExecutor.__new__(DaskExecutor)  # _translate reads nothing else for this case
    flight = SimpleNamespace(task=task, future=SimpleNamespace(status="lost"), key="k",
                             timeout=None, submitted=0.0)
    assert executor._translate(flight, done) is done  # type: ignore[arg-type]

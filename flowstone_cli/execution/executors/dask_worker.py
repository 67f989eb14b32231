"""What runs on a Dask worker: the project's code, unpacked once per version, and one step.

A `ProjectCode` worker plugin unpacks the shipped code bundle into the worker's local directory
(every worker, including ones that join later). `run_step` loads the project from there, with the
worker's own environment (so `${VAR}` secrets are resolved on the worker and never pickled),
builds the step runtime once per process, and runs one attempt exactly as a process-executor
worker would. A watchdog enforces the step's timeout by ending the worker process, after telling
the scheduler why, so the coordinator records the attempt as timed out.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from flowstone_cli.errors import FlowStoneError
from flowstone_cli.execution.assembly import build_runtime
from flowstone_cli.execution.code_bundle import CodeBundle, unpack
from flowstone_cli.execution.executors.base import synthetic_result
from flowstone_cli.execution.runtime import StepRuntime
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask
from flowstone_cli.project.loader import load_project, storage_root_for

TIMEOUT_TOPIC = "flowstone-step-timeouts"
STARTED_TOPIC = "flowstone-step-started"
EXIT_TIMED_OUT = 75  # the worker's exit code when its watchdog ended a step
_CODE_DIR = "flowstone-code"

# One runtime per (bundle, project folder, assets) in this worker process: loading the project
# imports the user's modules, which happens once, as in a process-executor worker.
_RUNTIMES: dict[tuple[str, str, tuple[str, ...]], StepRuntime] = {}
_LOCK = threading.Lock()


class ProjectCode(WorkerPlugin):
    """Unpacks one project version's code on every worker of the cluster."""

    def __init__(self, bundle: CodeBundle) -> None:
        self.bundle = bundle
        self.name = f"flowstone-code-{bundle.name}"

    def setup(self, worker: object) -> None:
        """Unpack the bundle under the worker's local directory (once per version)."""
        unpack(self.bundle.name, self.bundle.archive,
               Path(worker.local_directory) / _CODE_DIR)  # type: ignore[attr-defined]

    def teardown(self, worker: object) -> None:
        """Tear down the resources steps of this version set up in this worker."""
        with _LOCK:
            keys = [k for k in _RUNTIMES if k[0] == self.bundle.name]
            runtimes = [_RUNTIMES.pop(k) for k in keys]
        for runtime in runtimes:
            runtime.resources.teardown()


@dataclass(frozen=True)
class WorkerJob:
    """What every task of one run needs to find its runtime on a worker (plain, no secrets).

    Attributes:
        bundle: the code bundle's name (the folder it was unpacked into).
        origin_root: the project folder on the coordinator's machine; relative local paths
            (only allowed when the cluster runs on this machine) resolve against it.
        assets: the assets the run executes (their I/O managers and resources are built).
    """

    bundle: str
    origin_root: str
    assets: tuple[str, ...]


def _runtime(job: WorkerJob, local_directory: str) -> StepRuntime:
    cache_key = (job.bundle, job.origin_root, job.assets)
    with _LOCK:
        runtime = _RUNTIMES.get(cache_key)
        if runtime is not None:
            return runtime
        folder = Path(local_directory) / _CODE_DIR / job.bundle
        if not folder.is_dir():
            raise FlowStoneError(f"the project's code `{job.bundle}` is not on this worker",
                                 hint="The worker joined without the FlowStone code plugin; "
                                      "restart the run so the plugin is registered again.")
        project = load_project(folder, os.environ)
        origin = Path(job.origin_root)
        project = replace(project, root=origin, storage_root=storage_root_for(origin,
                                                                              project.config))
        runtime = build_runtime(project, job.assets)
        _RUNTIMES[cache_key] = runtime
        return runtime


def _arm_watchdog(worker: object, key: str, timeout: float) -> threading.Timer:
    def expire() -> None:
        try:
            worker.log_event(TIMEOUT_TOPIC, {"key": key, "timeout": timeout})  # type: ignore
            time.sleep(1.0)  # the event travels on the worker's batched stream; let it go out
        finally:
            os._exit(EXIT_TIMED_OUT)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    return timer


def run_step(job: WorkerJob, task: StepTask, timeout: float | None, key: str) -> StepResult:
    """Run one attempt of one step on this worker; never raises for the step's own errors."""
    worker = get_worker()
    # Tells the client this attempt really started here: if the worker dies, a task that never
    # started is sent again, one that started is a crash (see DaskExecutor).
    worker.log_event(STARTED_TOPIC, {"key": key})  # type: ignore[attr-defined]
    watchdog = _arm_watchdog(worker, key, timeout) if timeout else None
    try:
        try:
            runtime = _runtime(job, worker.local_directory)
        except FlowStoneError as exc:
            error = StepError(exc.code, type(exc).__name__,
                              f"asset `{task.label}` could not start on Dask worker "
                              f"{worker.address}: {exc.message}", hint=exc.hint)
            return replace(synthetic_result(task, ResultStatus.FAILED, error),
                           worker=worker.address)
        result = runtime.run(task)
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return replace(result, worker=worker.address)

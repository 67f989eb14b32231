"""The Dask executor: steps run as tasks on a Dask cluster; this process stays the coordinator.

One step attempt is one Dask task with a key unique to the run, step and attempt. Workers
compute and store values through the I/O managers and return the plain `StepResult`; only this
process records anything. Dask is told never to re-run a task by itself on a local cluster
(`allowed-failures = 0`): a worker that dies becomes a failed attempt (`worker_crashed`, which
the asset's retry policy may retry). A scheduler that goes away fails the steps in flight and
every later one (`scheduler_lost`), so the run ends failed and `runs resume` finishes it.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from dataclasses import dataclass

import dask
from distributed import Client, Future, LocalCluster, as_completed

from flowstone_cli.errors import ClusterUnavailableError
from flowstone_cli.execution.code_bundle import CodeBundle
from flowstone_cli.execution.executors.base import synthetic_result
from flowstone_cli.execution.executors.dask_worker import (
    STARTED_TOPIC,
    TIMEOUT_TOPIC,
    ProjectCode,
    WorkerJob,
    run_step,
)
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask

_CANCELED = StepError("canceled", "Canceled", "run canceled")
QUEUE_PER_THREAD = 4  # the coordinator keeps up to 2 x this many tasks submitted per thread
# A task Dask had queued on a worker that died never ran: it is sent again this often.
MAX_RESUBMITS = 3


@dataclass
class _InFlight:
    task: StepTask
    future: Future
    submitted: float
    timeout: float | None
    key: str = ""
    resubmits: int = 0


def start_client(address: str | None, workers: int) -> tuple[Client, LocalCluster | None]:
    """A client of the cluster at `address`, or of a new local cluster of `workers` processes."""
    if address is not None:
        try:
            client = Client(address, timeout=30, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterUnavailableError(
                f"cannot reach the Dask scheduler at {address}: {exc}",
                hint="Check that `dask scheduler` runs there and that this machine can reach "
                     "its port.") from None
        try:
            client.wait_for_workers(1, timeout=300)
        except (OSError, TimeoutError):
            client.close()
            raise ClusterUnavailableError(
                f"no worker joined the Dask scheduler at {address} within 300s",
                hint="Start workers with `dask worker ADDRESS`.") from None
        return client, None
    # No silent re-runs of user code: a dead worker fails its task (the retry policy decides).
    # Saturation 1.0 keeps root tasks on the scheduler; other tasks may still wait on a worker,
    # and those lost before they started are sent again (`DaskExecutor._resubmit_unstarted`).
    # Dask's statistical profiler samples every worker thread every 10 ms; steps ran about a
    # third slower with it on a loaded machine, so the local cluster turns it off.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", host="127.0.0.1")
    return Client(cluster, set_as_default=False), cluster


def dashboard_link(client: Client) -> str | None:
    """The scheduler's dashboard URL, when it serves one (without bokeh the scheduler keeps
    the port open and answers with a page saying the dashboard needs bokeh)."""
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        link = client.dashboard_link
        with urllib.request.urlopen(link, timeout=3) as response:  # noqa: S310 - http(s) only
            page = response.read(4096)
            return link if response.status == 200 and b"needs bokeh" not in page else None
    except Exception:  # noqa: BLE001 - a missing dashboard must never stop a run
        return None


def event_keys(client: Client, topic: str, deadline: float) -> set[str] | None:
    """The `key` of every event logged on `topic`, or None when the scheduler does not answer
    within `deadline` seconds. Asked in a helper thread: with the scheduler gone or stopped,
    the client would wait for it without end."""
    if client.status != "running":
        return None
    answer: list[set[str]] = []

    def ask() -> None:
        try:
            events = client.get_events(topic)
            answer.append({msg.get("key") for _, msg in events if isinstance(msg, dict)})
        except Exception:  # noqa: BLE001 - no answer is handled by the caller
            pass

    thread = threading.Thread(target=ask, name="flowstone-dask-events", daemon=True)
    thread.start()
    thread.join(timeout=deadline)
    return answer[0] if answer else None


class DaskExecutor:
    """Runs tasks on a Dask cluster.

    Args:
        client: a connected client (see `start_client`).
        cluster: the local cluster to close at shutdown (None: a cluster someone else runs).
        bundle: the project's code, registered as a worker plugin.
        job: what tasks need to find their runtime on a worker.
        address: the scheduler address, for messages.
    """

    events_deadline = 5.0  # seconds to wait for the scheduler's event log before giving up

    def __init__(self, client: Client, cluster: LocalCluster | None, bundle: CodeBundle,
                 job: WorkerJob, *, address: str) -> None:
        self._client = client
        self._cluster = cluster
        self._job = job
        self._address = address
        self._running: dict[str, _InFlight] = {}
        self._by_key: dict[str, str] = {}
        self._early: list[StepResult] = []
        self._timed_out: set[str] = set()
        self._lost: str | None = None
        self._last_timeout_poll = 0.0
        # Results are gathered on the client's event loop as tasks finish; `wait` only drains
        # them (no round trip per task from this thread).
        self._completed = as_completed([], with_results=True, raise_errors=False,
                                       loop=client.loop)
        client.register_plugin(ProjectCode(bundle), name=f"flowstone-code-{bundle.name}")
        self.threads = max(1, sum(client.nthreads().values()))
        # The coordinator keeps up to 2 x capacity tasks submitted. Dask queues them on the
        # scheduler (a worker holds only what it runs), so a deeper queue hides the round trip
        # between a task finishing and the next one being submitted.
        self.capacity = self.threads * QUEUE_PER_THREAD
        self.dashboard = dashboard_link(client)

    @staticmethod
    def _key(task: StepTask) -> str:
        return f"flowstone-{task.asset}-{task.run_id}-{task.step_id}-{task.attempt}"

    def submit(self, task: StepTask, *, timeout: float | None = None) -> None:
        """Send the task to the cluster (a scheduler already lost fails it at once)."""
        if self._lost is not None:
            self._early.append(self._lost_result(task, time.time()))
            return
        self._send(task, timeout, self._key(task), 0, time.time())

    def _send(self, task: StepTask, timeout: float | None, key: str, resubmits: int,
              submitted: float) -> None:
        future = self._client.submit(run_step, self._job, task, timeout, key, key=key,
                                     pure=False, retries=0)
        self._running[task.step_id] = _InFlight(task, future, submitted, timeout, key,
                                                resubmits)
        self._by_key[key] = task.step_id
        self._completed.add(future)

    def _resubmit_unstarted(self, flight: _InFlight, value: object) -> bool:
        """A task lost with a worker before it started (Dask had queued it there) is sent
        again, at most `MAX_RESUBMITS` times; one that had started fails as a crash."""
        exc = value[1] if isinstance(value, tuple) and len(value) == 3 else value
        if (type(exc).__name__ != "KilledWorker" or flight.resubmits >= MAX_RESUBMITS
                or self._lost is not None or flight.key in self._started_keys(flight.key)):
            return False
        key = f"{self._key(flight.task)}-r{flight.resubmits + 1}"
        self._send(flight.task, flight.timeout, key, flight.resubmits + 1, flight.submitted)
        return True

    def _started_keys(self, key: str) -> set[str]:
        """Keys whose step logged its start. No answer (the scheduler is gone or stuck) means
        "started": the step then fails as a crash, and the run reports the lost scheduler."""
        started = self._event_keys(STARTED_TOPIC)
        return {key} if started is None else started

    def _event_keys(self, topic: str) -> set[str] | None:
        return event_keys(self._client, topic, self.events_deadline)

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        """Results of finished tasks, waiting at most `timeout` seconds for at least one."""
        if self._early:
            results, self._early = self._early, []
            return results
        if not self._running:
            return []
        completed = self._completed
        deadline = time.monotonic() + (timeout if timeout is not None else 3600.0)
        while not completed.has_ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._poll_timeouts()
            with completed.thread_condition:
                completed.thread_condition.wait(timeout=min(remaining, 0.5))
        results: list[StepResult] = []
        for future, value in completed.next_batch(block=False):
            step_id = self._by_key.pop(future.key, None)
            flight = self._running.pop(step_id, None) if step_id is not None else None
            if flight is None:
                continue  # canceled by cancel_all: already reported
            if not self._resubmit_unstarted(flight, value):
                results.append(self._translate(flight, value))
            future.release()
        return results

    def _poll_timeouts(self) -> None:
        # A task whose watchdog fired ends its worker; on a scheduler that re-runs tasks of
        # dead workers it would run again, so it is canceled as soon as the event arrives.
        now = time.time()
        overdue = [f for f in self._running.values()
                   if f.timeout is not None and now - f.submitted > f.timeout]
        if not overdue or now - self._last_timeout_poll < 1.0 or self._lost is not None:
            return
        self._last_timeout_poll = now
        fired = self._fired_timeouts()
        for flight in overdue:
            key = flight.key
            if key in fired and key not in self._timed_out:
                self._timed_out.add(key)
                self._client.cancel([flight.future], force=True)

    def _fired_timeouts(self) -> set[str]:
        """Keys whose worker-side watchdog fired; none when the scheduler does not answer
        (the caller then treats the run's scheduler as lost)."""
        return self._event_keys(TIMEOUT_TOPIC) or set()

    def _translate(self, flight: _InFlight, value: object) -> StepResult:
        task, future = flight.task, flight.future
        key = flight.key
        if isinstance(value, StepResult):
            # Only the step function returns one, so the step ran to its end. The future's
            # status may say otherwise by now: when the worker that holds the (already
            # gathered) result dies, Dask marks the future lost.
            return value
        if key in self._timed_out or (future.status == "error" and flight.timeout is not None
                                      and key in self._fired_timeouts()):
            error = StepError("step_timed_out", "TimedOut",
                              f"asset `{task.label}` ran longer than its timeout of "
                              f"{flight.timeout:g}s and its Dask worker was stopped",
                              hint="Raise the asset's timeout= or --step-timeout, or make it "
                                   "faster.")
            return synthetic_result(task, ResultStatus.TIMED_OUT, error,
                                    started_at=flight.submitted)
        if future.status == "cancelled" or self._client.status != "running":
            if self._client.status != "running" and self._lost is None:
                self._lost = f"the Dask scheduler at {self._address} went away"
            if self._lost is not None:
                return self._lost_result(task, flight.submitted)
            return synthetic_result(task, ResultStatus.CANCELED, _CANCELED,
                                    started_at=flight.submitted)
        exc = value[1] if isinstance(value, tuple) and len(value) == 3 else value
        if type(exc).__name__ == "KilledWorker":
            error = StepError("worker_crashed", "WorkerCrashed",
                              f"the Dask worker running asset `{task.label}` died",
                              retryable=True,
                              hint="The worker may have run out of memory, or was killed from "
                                   "outside; see the worker's log.")
        else:
            error = StepError("worker_error", type(exc).__name__,
                              f"asset `{task.label}`: {exc}")
        return synthetic_result(task, ResultStatus.FAILED, error, started_at=flight.submitted)

    def _lost_result(self, task: StepTask, started: float) -> StepResult:
        error = StepError("scheduler_lost", "SchedulerLost",
                          f"asset `{task.label}` did not finish: {self._lost}",
                          hint="Start the cluster again, then finish the run with "
                               f"`flowstone runs resume {task.run_id}`.")
        return synthetic_result(task, ResultStatus.FAILED, error, started_at=started)

    def cancel_all(self) -> list[StepResult]:
        """Cancel every task in flight; return their canceled results."""
        results = [synthetic_result(f.task, ResultStatus.CANCELED, _CANCELED,
                                    started_at=f.submitted) for f in self._running.values()]
        futures = [f.future for f in self._running.values()]
        self._running.clear()
        self._by_key.clear()
        if futures and self._lost is None:
            try:
                self._client.cancel(futures, force=True)
            except Exception:  # noqa: BLE001 - canceling on a broken connection is best effort
                pass
        return results + self._early

    def shutdown(self) -> None:
        """Disconnect; a local cluster started for this run is closed (its workers stop)."""
        client, cluster = self._client, self._cluster
        self._client = None  # type: ignore[assignment]
        if client is None:
            return
        try:
            client.close(timeout=10)
        finally:
            if cluster is not None:
                cluster.close(timeout=30)

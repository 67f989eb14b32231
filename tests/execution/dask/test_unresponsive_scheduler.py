"""The executor's questions to the scheduler never wait without end: a scheduler that stops
answering (here SIGSTOPped: its connections stay open, nothing comes back) is treated as gone."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from flowstone_cli.execution.executors.dask import STARTED_TOPIC, TIMEOUT_TOPIC, event_keys
from tests.execution.dask.conftest import start_cluster, worker_env


def test_event_questions_give_up_on_a_stopped_scheduler(s3_server: str, markers: Path,
                                                         tmp_path: Path) -> None:
    from distributed import Client

    cluster = start_cluster(worker_env(s3_server, markers), tmp_path, workers=1)
    client = Client(cluster.address, timeout=30, set_as_default=False)
    try:
        # Logged from the client: no function of this test module has to reach the cluster,
        # whose processes cannot import `tests`.
        client.log_event(TIMEOUT_TOPIC, {"key": "step-a"})
        deadline = time.monotonic() + 120
        while event_keys(client, TIMEOUT_TOPIC, 30.0) != {"step-a"}:
            assert time.monotonic() < deadline, "the event never reached the scheduler"
            time.sleep(0.2)

        os.kill(cluster.scheduler.pid, signal.SIGSTOP)
        try:
            answers: list[object] = []
            asker = threading.Thread(target=lambda: answers.append(
                [event_keys(client, TIMEOUT_TOPIC, 1.0), event_keys(client, STARTED_TOPIC, 1.0)]))
            asker.start()
            asker.join(timeout=300)  # generous: only "it came back at all" is asserted
            assert not asker.is_alive(), "asking a stopped scheduler for its events hung"
            assert answers == [[None, None]]
        finally:
            os.kill(cluster.scheduler.pid, signal.SIGCONT)
    finally:
        client.close(timeout=10)
        cluster.stop()

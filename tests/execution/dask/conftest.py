"""A real Dask cluster for the tests: `dask scheduler` and two `dask worker` processes on
127.0.0.1 (free ports), started once per session, with their own environment (the S3 server's
address and credentials), as workers on other machines would have."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import S3_TEST_BUCKET

S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_SESSION_TOKEN": "testing", "AWS_SECURITY_TOKEN": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "NO_PROXY": "127.0.0.1,localhost",
          "no_proxy": "127.0.0.1,localhost"}
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(s3_server: str, markers: Path) -> dict[str, str]:
    """The environment of the cluster's processes and of the coordinator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWSTONE_", "DASK_"))}
    env.update(S3_ENV)
    env.update({"BUCKET": S3_TEST_BUCKET, "S3_ENDPOINT": s3_server,
                "DASK_TEST_MARKERS": str(markers)})
    return env


@dataclass
class DaskProcesses:
    """A scheduler and its workers, each a separate `dask` process."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in [*self.workers, self.scheduler]:
            proc.wait(timeout=30)


def start_cluster(env: dict[str, str], scratch: Path, workers: int = 2) -> DaskProcesses:
    """Start `dask scheduler` and `workers` single-threaded `dask worker`s; wait until ready."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scratch.mkdir(parents=True, exist_ok=True)
    logs = scratch / f"dask-{port}.log"
    log = logs.open("ab")
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], env=env, stdout=log, stderr=log,
                                 start_new_session=True)
    cluster = DaskProcesses(address, scheduler)
    try:
        for i in range(workers):
            cluster.workers.append(subprocess.Popen(
                [DASK, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--local-directory", str(scratch / f"w{port}-{i}")],
                env=env, stdout=log, stderr=log, start_new_session=True))
        deadline = time.monotonic() + 300
        while True:
            try:
                client = Client(address, timeout=10, set_as_default=False)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        try:
            client.wait_for_workers(workers, timeout=300)
        finally:
            client.close()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder tests use to hold steps (see tests/fixtures/dask_s3/assets/readings.py)."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="session")
def dask_cluster(s3_server: str, markers: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    """One scheduler and two workers shared by the tests of the session."""
    cluster = start_cluster(worker_env(s3_server, markers), tmp_path_factory.mktemp("dask"))
    try:
        yield cluster
    finally:
        cluster.stop()

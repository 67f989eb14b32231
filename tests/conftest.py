"""Shared fixtures: a real S3-compatible server (moto) on 127.0.0.1 and a fresh bucket per test.

Heavy imports (moto, s3fs) happen inside the fixtures so that collecting tests stays fast.
"""

from __future__ import annotations

import signal
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# A suite started in the background by a shell without job control (`cmd &` in a script)
# inherits SIGINT ignored, and so would every `flowstone` the tests start: the Ctrl-C they send
# would do nothing. The tests play a terminal's foreground job, whose Ctrl-C works; a handler
# (unlike SIG_IGN) is reset to the default in the programs the tests run.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

S3_TEST_BUCKET = "flowstone-test"
_S3_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Never send the test traffic through a proxy configured on the machine.
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@dataclass(frozen=True)
class S3Bucket:
    """An empty bucket on the test S3 server.

    Attributes:
        endpoint_url: the server's URL.
        bucket: the bucket name.
        storage_options: what an I/O manager takes to reach the bucket.
        fs: an `s3fs.S3FileSystem` connected to the server.
    """

    endpoint_url: str
    bucket: str
    storage_options: dict[str, Any] = field(repr=False)
    fs: Any = field(repr=False)

    def url(self, *parts: str) -> str:
        """`s3://<bucket>/<parts...>`."""
        return "/".join([f"s3://{self.bucket}", *parts])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (any free port) for the session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as patch:
        for name, value in _S3_TEST_ENV.items():
            patch.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[S3Bucket]:
    """A freshly reset moto server with one empty bucket, `flowstone-test`."""
    import s3fs

    request = urllib.request.Request(f"{s3_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    s3fs.S3FileSystem.clear_instance_cache()
    options: dict[str, Any] = {"endpoint_url": s3_server, "key": "testing",
                               "secret": "testing"}
    fs = s3fs.S3FileSystem(key="testing", secret="testing",
                           client_kwargs={"endpoint_url": s3_server})
    fs.mkdir(S3_TEST_BUCKET)
    yield S3Bucket(endpoint_url=s3_server, bucket=S3_TEST_BUCKET, storage_options=options, fs=fs)
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(autouse=True)
def _signals_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test must leave this process's SIGINT/SIGTERM handling as it found it: a disposition of
    SIG_IGN and a blocked signal mask are inherited by every subprocess the next tests start, whose
    Ctrl-C then silently does nothing. Restores what was changed and fails the test that did it."""
    import threading

    def state() -> tuple[object, object, frozenset[int]]:
        mask = frozenset()
        if threading.current_thread() is threading.main_thread():
            mask = frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), mask

    before = state()
    yield
    after = state()
    if after != before:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
        signal.pthread_sigmask(signal.SIG_SETMASK, before[2])
        pytest.fail(f"{request.node.nodeid} changed this process's signal handling: "
                    f"SIGINT {before[0]!r} -> {after[0]!r}, SIGTERM {before[1]!r} -> {after[1]!r}, "
                    f"blocked {sorted(before[2])} -> {sorted(after[2])}", pytrace=False)

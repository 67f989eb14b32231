"""Values are published atomically: readers see the old or the new version, never a torn one."""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from flowstone_cli.errors import IOManagerError
from flowstone_cli.io import PickleIOManager, StoreContext, cleanup_temp_files, publish_file
from flowstone_cli.io.publish import TEMP_NAME_PATTERN

BLOB = StoreContext(asset="blob")


class ExplodesWhenPickled:
    """Raises part-way through pickling, after earlier parts of the value were written."""

    def __reduce__(self) -> Any:
        raise RuntimeError("serialiser failed half-way")


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if TEMP_NAME_PATTERN.match(p.name)]


def _run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, text=True)


def test_failed_local_store_keeps_the_previous_version_and_leaves_no_temp_file(
        tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    manager.store(BLOB, "v1")
    with pytest.raises(IOManagerError) as caught:
        manager.store(BLOB, [b"x" * 2_000_000, ExplodesWhenPickled()])
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert manager.load(BLOB) == "v1"
    assert _temp_files(tmp_path) == []


def test_data_version_is_the_sha256_of_the_published_bytes(tmp_path: Path) -> None:
    stored = PickleIOManager(str(tmp_path)).store(BLOB, {"rows": list(range(1000))})
    published = (tmp_path / "blob.pkl").read_bytes()
    assert stored.data_version == hashlib.sha256(published).hexdigest()
    assert stored.size_bytes == len(published)


def test_published_file_permissions_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        PickleIOManager(str(tmp_path)).store(BLOB, 1)
    finally:
        os.umask(previous)
    assert (tmp_path / "blob.pkl").stat().st_mode & 0o777 == 0o644


def test_reader_never_sees_a_torn_file_during_200_rewrites(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    manager.store(BLOB, {"i": -1, "payload": b"\xff" * 50_000})
    writer = _run_python("""
        import sys
        from flowstone_cli.io import PickleIOManager, StoreContext
        manager = PickleIOManager(sys.argv[1])
        for i in range(200):
            manager.store(StoreContext(asset="blob"), {"i": i, "payload": bytes([i]) * 50_000})
    """, str(tmp_path))
    path, reads, seen = tmp_path / "blob.pkl", 0, set()
    while writer.poll() is None:
        value = pickle.loads(path.read_bytes())  # a torn file fails here or below
        assert value["payload"] == bytes([value["i"] % 256]) * 50_000
        reads, seen = reads + 1, seen | {value["i"]}
    assert writer.returncode == 0
    assert manager.load(BLOB)["i"] == 199
    assert reads > 0 and len(seen) > 1
    assert _temp_files(tmp_path) == []


def test_sigkill_mid_write_keeps_v1_and_cleanup_removes_the_leftover(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    manager.store(BLOB, "v1")
    writer = _run_python("""
        import sys, time
        from flowstone_cli.io import PickleIOManager, StoreContext

        class Stall:
            def __reduce__(self):
                print("half written", flush=True)
                time.sleep(60)

        PickleIOManager(sys.argv[1]).store(StoreContext(asset="blob"),
                                           [b"v2" * 1_000_000, Stall()])
    """, str(tmp_path))
    assert writer.stdout is not None and writer.stdout.readline().strip() == "half written"
    leftovers = _temp_files(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 0
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=120)
    assert manager.load(BLOB) == "v1"
    assert cleanup_temp_files(str(tmp_path)) == 1
    assert _temp_files(tmp_path) == []


def test_cleanup_keeps_the_temp_file_of_a_live_writer(tmp_path: Path) -> None:
    live = tmp_path / f".blob.pkl.tmp-{os.getpid()}-0123abcd"
    live.write_bytes(b"in progress")
    assert cleanup_temp_files(str(tmp_path)) == 0
    assert live.exists()


def test_cleanup_removes_old_temp_files_even_if_the_pid_is_alive(tmp_path: Path) -> None:
    old = tmp_path / "sub" / f".blob.pkl.tmp-{os.getpid()}-0123abcd"
    old.parent.mkdir()
    old.write_bytes(b"stale")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert cleanup_temp_files(str(tmp_path)) == 1


def test_failed_serialisation_on_a_rename_file_system_leaves_nothing(tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")

    def write(sink: Any) -> None:
        sink.write(b"partial")
        raise RuntimeError("serialiser failed")

    with pytest.raises(RuntimeError):
        publish_file("memory://atomic-test/x.bin", write, fs=fs)
    assert fs.find("/atomic-test") == []


def test_memory_file_system_round_trip_uses_rename(tmp_path: Path) -> None:
    manager = PickleIOManager("memory://round-trip")
    manager.store(BLOB, {"a": 1})
    assert manager.load(BLOB) == {"a": 1}
    assert manager.fs.find("/round-trip") == ["/round-trip/blob.pkl"]


def test_fsspec_local_file_system_is_published_like_the_local_disk(tmp_path: Path) -> None:
    import fsspec

    published = publish_file(str(tmp_path / "a" / "x.bin"), lambda sink: sink.write(b"data"),
                             fs=fsspec.filesystem("file"))
    assert (tmp_path / "a" / "x.bin").read_bytes() == b"data"
    assert published.sha256 == hashlib.sha256(b"data").hexdigest()

"""Reading exactly the recorded value: a loaded file is checked against its data version.

A worker publishes a value before the coordinator records it. A coordinator killed in between
leaves the file holding a value the store does not name; a consumer reading that file would
record lineage to the older materialization. So a consumer's load carries the recorded data
version (the sha256 of the published bytes) and the file it reads must match it, or the step
fails with `unrecorded_value` instead of computing from the wrong value.

Cost: a process remembers the hash of each file it published or verified, keyed by device,
inode, size and modification time. Values are published by rename, never rewritten in place,
so a file with the same key holds the same bytes: a consumer in the process that produced its
input, or a second read of the same input, costs one `stat`. Otherwise the file is hashed once
(from the page cache, right before it is parsed). After the read, the path must still name the
file that was hashed; a publish that replaced it meanwhile is detected.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import TypeVar

from flowstone_cli.errors import UnrecordedValueError

T = TypeVar("T")
_FileKey = tuple[int, int, int, int]
_known: dict[_FileKey, str] = {}
_MAX_KNOWN = 4096
_CHUNK = 1 << 20


def _key(st: os.stat_result) -> _FileKey:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def remember(path: str, sha256: str) -> None:
    """Note the hash of a file this process just published."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if len(_known) >= _MAX_KNOWN:
        _known.clear()
    _known[_key(st)] = sha256


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, _CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def read_verified(path: str, expected: str, read: Callable[[], T], *, asset: str,
                  partition: str | None) -> T:
    """`read()` the local file at `path`, making sure it holds the bytes hashed `expected`.

    Raises:
        UnrecordedValueError: the file is not the recorded value (or was replaced while read).
        FileNotFoundError: there is no file.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        actual = _known.get(_key(st))
        if actual is None:
            actual = _hash_fd(fd)
            if len(_known) >= _MAX_KNOWN:
                _known.clear()
            _known[_key(st)] = actual
        if actual != expected:
            # A damaged file (truncated, torn) is reported as corrupt by the reader itself;
            # one that reads fine is another, unrecorded value.
            read()
            raise _mismatch(path, expected, actual, asset, partition)
        value = read()
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise UnrecordedValueError(
                f"the value of {_name(asset, partition)} was replaced while it was being read",
                hint="Another run published a new value meanwhile; run this step again.")
        return value
    finally:
        os.close(fd)


def _name(asset: str, partition: str | None) -> str:
    return f"`{asset}`" if partition is None else f"`{asset}[{partition}]`"


def _mismatch(path: str, expected: str, actual: str, asset: str,
              partition: str | None) -> UnrecordedValueError:
    return UnrecordedValueError(
        f"the file of {_name(asset, partition)} ({path}) does not hold its recorded "
        f"materialization (data version {expected[:12]}, the file has {actual[:12]}): a run "
        "was stopped after publishing a value and before recording it",
        hint=f"Materialize `{asset}` again (`flowstone materialize {asset} --force`), which "
             "records what its file holds, then its consumers.")

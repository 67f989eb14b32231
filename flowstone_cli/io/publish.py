"""Atomic publication of one file: readers see the old version or the new one, never a torn one.

- Local disk: write a temporary file in the *target* directory, flush + fsync, `os.replace`,
  fsync the directory. (A temp file elsewhere, e.g. `$TMPDIR`, may be on another file system,
  where a rename degrades to a copy and tears.)
- Object stores (S3, GCS, Azure): serialise fully first (memory, spilling to a local temp file
  when large), then publish with ONE put. `with fs.open(key, "wb")` is never used: its `close()`
  publishes whatever was written, even after an exception.
- Other fsspec file systems: write a temporary name next to the target, then `fs.mv`.

The sha256 of exactly the published bytes is computed while writing, not by reading back.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

from flowstone_cli.io.contained import directory_fd, relative_parts
from flowstone_cli.io.filesystems import fs_path, is_object_store

logger = logging.getLogger(__name__)

Writer = Callable[[BinaryIO], None]
"""A function that serialises one value into the binary file it is given."""

# Values up to this size are uploaded from memory; larger ones spill to a local temp file first.
SPILL_THRESHOLD_BYTES = 64 * 2**20
_LOCAL_BUFFER_BYTES = 1 << 20
# Temp names carry the writer's PID so that cleanup can tell a crashed writer from a live one.
TEMP_NAME_PATTERN = re.compile(r"^\..+\.tmp-(?P<pid>\d+)-[0-9a-f]{8}$")
_MAX_TEMP_STEM = 200


@dataclass(frozen=True)
class PublishedFile:
    """What a publication wrote.

    Attributes:
        size_bytes: number of bytes published.
        sha256: hex sha256 of exactly those bytes.
    """

    size_bytes: int
    sha256: str


class HashingWriter(io.RawIOBase):
    """A write-only binary file that hashes and counts every byte on its way to `target`.

    `target=None` only hashes (used to fingerprint a serialisation without storing it).
    Closing the wrapper does not close `target`; its owner does.
    """

    def __init__(self, target: BinaryIO | Any | None) -> None:
        super().__init__()
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        if self._target is not None:
            self._target.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        # Also called by IOBase.close() at garbage collection, when the target may be closed.
        if self._target is not None and not getattr(self._target, "closed", False):
            self._target.flush()

    def hexdigest(self) -> str:
        """Hex sha256 of everything written so far."""
        return self._hash.hexdigest()


def temp_name(name: str) -> str:
    """A unique temporary file name for publishing `name` (hidden, tagged with our PID)."""
    return f".{name[:_MAX_TEMP_STEM]}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def publish_file(path: str, write: Writer, *, fs: AbstractFileSystem | None = None,
                 sync_directory: bool = True, root: str | None = None) -> PublishedFile:
    """Publish the bytes `write` produces at `path`, atomically.

    Args:
        path: absolute local path when `fs` is None, else a path or URL on `fs`.
        write: serialises the value into the binary file it receives.
        fs: the fsspec file system of a remote root; None for the local file system.
        sync_directory: fsync the directory after the rename (local only). Pass False only
            when the caller fsyncs the directory itself before relying on the file.
        root: for a local `path` under a storage root: the root. Folders below it are then
            opened without following symlinks and the file is written relative to them, so the
            containment check and the write are one step (see `io/contained.py`).

    Returns:
        The size and sha256 of the published bytes.

    Any exception from `write` (or from the storage) propagates and nothing is published.
    """
    if fs is None and root is not None:
        return _publish_contained(root, path, write, sync_directory=sync_directory)
    if fs is None:
        return _publish_local(path, write, sync_directory=sync_directory)
    target = fs_path(fs, path)
    if _is_local(fs):
        return _publish_local(target, write)
    if is_object_store(fs):
        published = _publish_object(fs, target, write)
    else:
        published = _publish_by_rename(fs, target, write)
    # Listings are cached by fsspec; a later `exists` or sensor listing must see the new file.
    fs.invalidate_cache(target.rsplit("/", 1)[0])
    fs.invalidate_cache(target)
    return published


def _is_local(fs: AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "file" in protocols


def _publish_local(path: str, write: Writer, *, sync_directory: bool = True) -> PublishedFile:
    directory, name = os.path.split(path)
    make_dirs_durable(directory)
    tmp = os.path.join(directory, temp_name(name))
    # 0o666 minus umask, like a normal open(); mkstemp's 0o600 would hide data from a team.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with open(fd, "wb", buffering=_LOCAL_BUFFER_BYTES) as raw:
            sink = HashingWriter(raw)
            write(sink)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        _discard_local(tmp)
        raise
    if sync_directory:
        fsync_directory(directory)
    return PublishedFile(size_bytes=sink.size, sha256=sink.hexdigest())


def _publish_contained(root: str, path: str, write: Writer, *,
                       sync_directory: bool) -> PublishedFile:
    *folders, name = relative_parts(root, path)
    make_dirs_durable(root)  # the root itself (folders below it are made without following)
    with directory_fd(root, folders, create=True) as directory:
        tmp = temp_name(name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_NOFOLLOW", 0), 0o666, dir_fd=directory)
        try:
            with open(fd, "wb", buffering=_LOCAL_BUFFER_BYTES) as raw:
                sink = HashingWriter(raw)
                write(sink)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp, name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=directory)
            raise
        if sync_directory:
            os.fsync(directory)
    return PublishedFile(size_bytes=sink.size, sha256=sink.hexdigest())


def _discard_local(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        return
    except OSError as exc:  # the original error matters more; cleanup_temp_files gets it later
        logger.warning("could not remove temporary file %s: %s", tmp, exc)


def make_dirs_durable(directory: str) -> None:
    """`os.makedirs(directory)`, fsyncing each parent so new directories survive a crash."""
    missing: list[str] = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if not missing:
        return
    os.makedirs(directory, exist_ok=True)
    for created in reversed(missing):
        fsync_directory(os.path.dirname(created))


def fsync_directory(directory: str) -> None:
    """Make renames in `directory` durable (a no-op where directories cannot be fsynced)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        logger.debug("fsync of directory %s not supported: %s", directory, exc)
    finally:
        os.close(fd)


class _SpillBuffer(io.RawIOBase):
    """In-memory buffer that moves to a local temp file once it grows past a threshold."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self._threshold = threshold
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: Any = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._memory is not None and self._memory.tell() + len(data) > self._threshold:
            self._file = tempfile.NamedTemporaryFile(prefix="flowstone-upload-", delete=False)
            self._file.write(self._memory.getbuffer())
            self._memory = None
        target = self._memory if self._memory is not None else self._file
        return target.write(data)

    def upload(self, fs: AbstractFileSystem, path: str) -> None:
        """Publish the buffered bytes at `path` with one put (multipart when large)."""
        if self._memory is not None:
            fs.pipe_file(path, self._memory.getvalue())
            return
        self._file.flush()
        fs.put_file(self._file.name, path)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            os.unlink(self._file.name)
            self._file = None
        self._memory = None
        super().close()


def _publish_object(fs: AbstractFileSystem, path: str, write: Writer) -> PublishedFile:
    with _SpillBuffer(SPILL_THRESHOLD_BYTES) as buffer:
        sink = HashingWriter(buffer)
        write(sink)
        # The only call that makes anything visible: an exception above publishes nothing.
        buffer.upload(fs, path)
    return PublishedFile(size_bytes=sink.size, sha256=sink.hexdigest())


def _publish_by_rename(fs: AbstractFileSystem, path: str, write: Writer) -> PublishedFile:
    parent, name = path.rsplit("/", 1) if "/" in path else ("", path)
    tmp = f"{parent}/{temp_name(name)}" if parent else temp_name(name)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    try:
        with fs.open(tmp, "wb") as raw:
            sink = HashingWriter(raw)
            write(sink)
        fs.mv(tmp, path)
    except BaseException:
        try:
            fs.rm(tmp)
        except FileNotFoundError:
            pass  # never created, or already moved: nothing to discard
        except OSError as exc:
            logger.warning("could not remove temporary file %s: %s", tmp, exc)
        raise
    return PublishedFile(size_bytes=sink.size, sha256=sink.hexdigest())

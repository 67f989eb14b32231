"""Removal of temporary files that a crashed writer left behind.

A writer killed between creating its temporary file and renaming it leaves a hidden
`.<name>.tmp-<pid>-<random>` file next to the target. The published value is never affected;
the leftover only wastes space. Object stores never get temporary objects (one PUT), so there is
nothing to clean there.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flowstone_cli.io.filesystems import fs_path, is_object_store, open_filesystem
from flowstone_cli.io.paths import parse_root
from flowstone_cli.io.publish import TEMP_NAME_PATTERN

logger = logging.getLogger(__name__)

DEFAULT_STALE_AFTER_SECONDS = 3600.0


def cleanup_temp_files(root: str, *, storage_options: Mapping[str, Any] | None = None,
                       stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS) -> int:
    """Remove leftover temporary files below `root` and return how many were removed.

    On the local file system a temporary file is removed when the process that wrote it (its
    PID is in the name) is no longer running, or when it is older than `stale_after_seconds`
    (in case the PID was reused). A file of a live writer is kept, so this is safe to call while
    another run is storing values. On other fsspec file systems the PID cannot be checked (the
    writer may be on another machine), so only the age counts.

    Args:
        root: the storage root (local path or fsspec URL).
        storage_options: fsspec options for a remote root.
        stale_after_seconds: age after which a temporary file is removed regardless of its PID.
    """
    storage_root = parse_root(root)
    if storage_root.is_local:
        return _cleanup_local(storage_root.url, stale_after_seconds)
    fs = open_filesystem(storage_root, storage_options)
    if is_object_store(fs):
        return 0
    return _cleanup_remote(fs, fs_path(fs, storage_root.url), stale_after_seconds)


def _process_is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError:
        return True  # cannot tell: keep the file, age-based cleanup will get it
    return True


def _cleanup_local(root: str, stale_after_seconds: float) -> int:
    removed = 0
    for directory, _dirs, files in os.walk(root):
        removed += _cleanup_names(directory, files, stale_after_seconds)
    return removed


def cleanup_directories(directories: Iterable[str], *,
                        stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS) -> int:
    """Remove leftover temporary files directly in these local folders (not below them), with
    the same rules as `cleanup_temp_files`; a run calls it for the folders it will write to,
    which costs one listing per folder. Returns how many were removed."""
    removed = 0
    for directory in directories:
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError):
            continue
        removed += _cleanup_names(directory, names, stale_after_seconds)
    return removed


def _cleanup_names(directory: str, names: Iterable[str], stale_after_seconds: float) -> int:
    removed = 0
    now = time.time()
    for name in names:
        match = TEMP_NAME_PATTERN.fullmatch(name)
        if match is None:
            continue
        path = os.path.join(directory, name)
        try:
            age = now - os.stat(path).st_mtime
        except FileNotFoundError:
            continue  # its writer just renamed or removed it
        if _process_is_running(int(match["pid"])) and age < stale_after_seconds:
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed += 1
        logger.info("removed leftover temporary file %s", path)
    return removed


def _cleanup_remote(fs: Any, root: str, stale_after_seconds: float) -> int:
    removed = 0
    now = time.time()
    for path, info in fs.find(root, detail=True).items():
        name = path.rsplit("/", 1)[-1]
        if TEMP_NAME_PATTERN.fullmatch(name) is None:
            continue
        modified = info.get("mtime") or info.get("created")
        timestamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
        if not isinstance(timestamp, (int, float)) or now - timestamp < stale_after_seconds:
            continue  # unknown age: keep rather than delete a live writer's file
        fs.rm(path)
        removed += 1
        logger.info("removed leftover temporary file %s", path)
    return removed

"""Writing and deleting under a local storage root without following symlinks.

`paths.locate` checks with `realpath` that a value's path stays inside the root, but a check
followed by an `open` by name is a race: a folder under the root replaced by a symlink in between
sends the write elsewhere. Here the check *is* the open: from a descriptor of the root, each
folder below it is opened with `O_NOFOLLOW | O_DIRECTORY` relative to its parent's descriptor,
and the file is created, renamed and unlinked relative to the last one. A symlink anywhere below
the root makes the operation fail (`InvalidNameError`) instead of escaping it. The root itself
may be a symlink: it is resolved once, when opened.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from flowstone_cli.errors import InvalidNameError

_DIR_FLAGS = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
              | getattr(os, "O_CLOEXEC", 0))
_SYMLINK_ERRORS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)


def relative_parts(root: str, path: str) -> list[str]:
    """The components of `path` below `root` (which `paths.locate` produced by joining)."""
    relative = os.path.relpath(path, root)
    parts = relative.split(os.sep)
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise InvalidNameError(f"{path} is not inside the storage root {root}",
                               hint="Use plain partition keys.")
    return parts


def _escaped(root: str, part: str) -> InvalidNameError:
    return InvalidNameError(f"`{part}` under the storage root {root} is a symlink or not a "
                            "folder; refusing to follow it",
                            hint="Remove the symlink from the storage root (values are only "
                                 "written to real folders below the root).")


@contextlib.contextmanager
def directory_fd(root: str, folders: list[str], *, create: bool) -> Iterator[int]:
    """A descriptor of `root/folders...`, each folder opened without following symlinks.

    Args:
        create: make missing folders (each new one is fsynced into its parent).

    Raises:
        InvalidNameError: a folder below the root is a symlink (or not a folder).
        FileNotFoundError: a folder is missing and `create` is False.
    """
    fd = os.open(os.path.realpath(root), _DIR_FLAGS)
    try:
        for part in folders:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                    os.fsync(fd)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in _SYMLINK_ERRORS:
                        raise _escaped(root, part) from None
                    raise
            except OSError as exc:
                if exc.errno in _SYMLINK_ERRORS:
                    raise _escaped(root, part) from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def unlink_contained(root: str, path: str) -> None:
    """Delete the file at `path` under `root` (nothing if it is missing), never following a
    symlink below the root.

    Raises:
        InvalidNameError: a folder on the way is a symlink.
    """
    *folders, name = relative_parts(root, path)
    try:
        with directory_fd(root, folders, create=False) as fd:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        return

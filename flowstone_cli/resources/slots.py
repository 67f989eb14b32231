"""Concurrency slots shared by every process on the machine: `flock`ed lock files.

A group of `limit` slots is a folder holding `0.lock` ... `<limit-1>.lock`. Taking a slot is a
non-blocking `fcntl.flock(LOCK_EX)` on one of them; releasing it unlocks and closes the file.
The operating system drops the lock when the holding process exits for any reason (crash,
`kill -9`), so a dead process never leaves an orphaned slot and no server is needed.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slot_folder_name(key: str) -> str:
    """A file-system-safe folder name for a slot group key (e.g. a host:port)."""
    return _UNSAFE.sub("_", key).strip("._") or "default"


class Slot:
    """One taken slot; `release()` (or process exit) frees it."""

    def __init__(self, fd: int, number: int) -> None:
        self._fd: int | None = fd
        self.number = number

    def release(self) -> None:
        """Unlock and close the slot's file (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object still holds its slot."""
        return self._fd is not None


class SlotGroup:
    """`limit` slots in `folder`, shared by every process that uses the same folder."""

    def __init__(self, folder: Path, limit: int) -> None:
        if limit < 1:
            raise ValueError("a slot group needs a limit of at least 1")
        self.folder = Path(folder)
        self.limit = limit

    def try_acquire(self) -> Slot | None:
        """Take a free slot now, or return None when all `limit` are taken."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for number in range(self.limit):
            fd = os.open(self.folder / f"{number}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return Slot(fd, number)
        return None

    def acquire(self, *, poll: float = 0.02, deadline: float | None = None) -> Slot | None:
        """Wait for a slot (polling); None if `deadline` (a `time.monotonic()` value) passes."""
        while True:
            slot = self.try_acquire()
            if slot is not None:
                return slot
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll)

    def in_use(self) -> int:
        """How many slots some process holds right now (for tests and diagnostics)."""
        taken = []
        for _ in range(self.limit):
            slot = self.try_acquire()
            if slot is None:
                break
            taken.append(slot)
        free = len(taken)
        for slot in taken:
            slot.release()
        return self.limit - free

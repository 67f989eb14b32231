"""Launch receipts: what `flowstone tick` knows about a detached run before the run knows itself.

A detached run records itself in the metadata store only once its project has loaded and its
plan is made. If it dies before that (a project that no longer loads, a selection that needs
partitions, an out-of-memory kill), the only trace would be its log. So the launcher writes a
receipt next to the log, `.flowstone/logs/<run id>.launch.json`, naming the process; each tick
looks at the receipts left: a run that recorded itself has its receipt removed, and a process
that is gone without recording its run is recorded as a failed run (see `api/launches.py`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

_SUFFIX = ".launch.json"
TAIL_LINES = 20
_TAIL_BYTES = 16_384


@dataclass(frozen=True)
class LaunchReceipt:
    """A launched process that may not have recorded its run yet.

    Attributes:
        run_id: the id the run was told to record.
        pid: the launched process.
        host: the machine it runs on (only a tick on that machine can see whether it lives).
        trigger: `schedule:NAME`, `sensor:NAME` or `timeout:REQUEST`.
        selection: selection terms, space-separated.
        partitions: partition keys asked for.
        command: the command line.
        log: path of its output.
        launched_at: when it was started (ISO-8601, UTC).
    """

    run_id: str
    pid: int
    host: str
    trigger: str
    selection: str
    partitions: tuple[str, ...]
    command: str
    log: str
    launched_at: str

    @property
    def launched(self) -> datetime:
        """`launched_at` as a datetime."""
        return datetime.fromisoformat(self.launched_at)


def logs_dir(project_root: Path) -> Path:
    """Where launched runs write their output and receipts."""
    return project_root / ".flowstone" / "logs"


def write_receipt(project_root: Path, receipt: LaunchReceipt) -> Path:
    """Write a receipt atomically (a reader never sees half of one)."""
    path = logs_dir(project_root) / f"{receipt.run_id}{_SUFFIX}"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(receipt), sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_receipts(project_root: Path) -> Iterator[LaunchReceipt]:
    """Every receipt left in the project, oldest run first; unreadable ones are skipped."""
    folder = logs_dir(project_root)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{_SUFFIX}")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data["partitions"] = tuple(data.get("partitions") or ())
            yield LaunchReceipt(**data)
        except (OSError, ValueError, TypeError):
            continue  # being written or damaged: the next tick looks again


def remove_receipt(project_root: Path, run_id: str) -> None:
    """Forget a receipt (its run is recorded, one way or the other)."""
    (logs_dir(project_root) / f"{run_id}{_SUFFIX}").unlink(missing_ok=True)


def this_host() -> str:
    """The name receipts record for this machine."""
    return socket.gethostname()


def process_alive(pid: int, run_id: str) -> bool:
    """True while the launched process `pid` still runs `run_id`.

    On Linux the process's command line must name the run, so a recycled pid is not taken for
    the run, and a zombie (finished, not yet reaped by its parent) counts as gone. Elsewhere a
    signal-0 probe answers.
    """
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text(encoding="utf-8", errors="replace")
            state = stat.rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and run_id.encode() in command
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def log_tail(path: str, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a log (empty if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])

"""Launching runs detached from `flowstone tick`, so a long run never holds up the next tick.

A launched run is an ordinary `flowstone materialize` in its own session (it survives the tick
and the terminal), with its output appended to `.flowstone/logs/<run id>.log` in the project.
The run id is chosen here and passed down, so the tick can record it before the run starts.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowstone_cli.automation.receipts import LaunchReceipt, logs_dir, this_host, write_receipt


@dataclass(frozen=True)
class LaunchRequest:
    """One run to launch.

    Attributes:
        run_id: the id the run will record.
        selection: selection terms.
        partitions: partition keys (empty for unpartitioned targets).
        trigger: `schedule:NAME` or `sensor:NAME`.
        tags: run tags.
        partition_range: an inclusive range `START..END` (`--partitions`), if any.
        config: a schedule's run config (`schedule(config=...)`), plain JSON-able data.
    """

    run_id: str
    selection: tuple[str, ...]
    partitions: tuple[str, ...] = ()
    trigger: str = "schedule"
    tags: Mapping[str, str] | None = None
    partition_range: str | None = None
    config: Mapping[str, Any] | None = None

    def argv(self, project_root: Path) -> list[str]:
        """The command line of the launched process."""
        args = [sys.executable, "-m", "flowstone_cli", "-p", str(project_root), "materialize",
                *self.selection, "--run-id", self.run_id, "--trigger", self.trigger]
        for key in self.partitions:
            args += ["--partition", key]
        if self.partition_range:
            args += ["--partitions", self.partition_range]
        for key, value in sorted((self.tags or {}).items()):
            args += ["--tag", f"{key}={value}"]
        if self.config:
            args += ["--config-json", json.dumps(self.config, sort_keys=True)]
        return args


Launcher = Callable[[Path, LaunchRequest], str]


def launch_detached(project_root: Path, request: LaunchRequest) -> str:
    """Start the run in its own session and return where its output goes.

    A receipt naming the process is left next to the log, so that a run that dies before it
    records itself is still recorded, as failed, by the next tick (see `receipts.py`).
    """
    logs = logs_dir(project_root)
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{request.run_id}.log"
    env = {k: v for k, v in os.environ.items() if k != "FLOWSTONE_PROJECT"}
    argv = request.argv(project_root)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=project_root, env=env,
                                   start_new_session=True, close_fds=True)
    write_receipt(project_root, LaunchReceipt(
        run_id=request.run_id, pid=process.pid, host=this_host(), trigger=request.trigger,
        selection=" ".join(request.selection), partitions=tuple(request.partitions),
        command=shlex.join(["flowstone", *argv[3:]]), log=str(log_path),
        launched_at=datetime.now(UTC).isoformat()))
    return str(log_path)


def describe(requests: Sequence[LaunchRequest]) -> list[str]:
    """Short human descriptions of launch requests (for `--dry-run`)."""
    return [" ".join(r.selection) + (f" --partition {' '.join(r.partitions)}"
                                     if r.partitions else "") for r in requests]

"""What a step writes to standard output goes to the step's log, never to the command's stdout.

`--json` prints one JSON document on stdout; an asset that calls `print`, `os.write(1, ...)` or
runs a subprocess would corrupt it. For the duration of a step, file descriptor 1 (inherited by
subprocesses) and `sys.stdout` point at a temporary file; afterwards its last `MAX_BYTES` are
added to the step's log, one message per line (a flood is capped like `context.log`).

On a terminal nothing is redirected: the output is shown as it comes (and the live progress
display, which writes to stdout from its own thread, keeps working).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from flowstone_cli.definitions.context import StepLog

MAX_BYTES = 256 * 1024


@contextlib.contextmanager
def stdout_to_log(log: StepLog) -> Iterator[None]:
    """Redirect fd 1 and `sys.stdout` into `log` while the block runs (not on a terminal)."""
    if os.isatty(1):
        yield
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    capture = tempfile.TemporaryFile()
    saved = os.dup(1)
    previous = sys.stdout
    os.dup2(capture.fileno(), 1)
    sys.stdout = open(1, "w", closefd=False, buffering=1, encoding="utf-8",  # noqa: SIM115
                      errors="replace")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        sys.stdout = previous
        os.dup2(saved, 1)
        os.close(saved)
        _to_log(capture, log)


def _to_log(capture: object, log: StepLog) -> None:
    with capture:  # type: ignore[attr-defined]
        size = capture.seek(0, os.SEEK_END)  # type: ignore[attr-defined]
        if not size:
            return
        capture.seek(max(0, size - MAX_BYTES))  # type: ignore[attr-defined]
        text = capture.read().decode("utf-8", errors="replace")  # type: ignore[attr-defined]
    lines = text.splitlines()
    if size > MAX_BYTES:
        lines = lines[1:]  # the first line was cut
        log.warning(f"stdout: {size - MAX_BYTES} earlier bytes of output were dropped")
    for line in lines:
        log.info(f"stdout: {line}")

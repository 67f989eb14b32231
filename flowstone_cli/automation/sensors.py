"""Built-in sensors: new files matching a glob, and new materializations of watched assets."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from flowstone_cli.definitions.automation import (
    RunRequest,
    SensorContext,
    SensorSpec,
    caller_location,
)


def _caller() -> tuple[str, int]:
    return caller_location(3)


def _partition_from(rule: Callable[[str], str | None] | str | None, path: str) -> str | None:
    if rule is None:
        return None
    if callable(rule):
        return rule(path)
    match = re.search(rule, path)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def FileSensor(name: str, pattern: str, target: str, *,  # noqa: N802 - reads as a class
               partition_from: Callable[[str], str | None] | str | None = None,
               interval: str = "30s",
               storage_options: Mapping[str, Any] | None = None) -> SensorSpec:
    """A sensor that requests one run per new file matching an fsspec glob.

    Args:
        name: the sensor's name.
        pattern: a glob on any fsspec file system, e.g. `s3://bucket/inbox/*.csv` or a local
            path (relative paths are relative to the project folder).
        target: the selection to materialize.
        partition_from: the partition of a file's run: a function of its path, or a regular
            expression whose first group (or whole match) is the key.
        interval: minimum time between evaluations.
        storage_options: fsspec options (`endpoint_url`, `key`, `secret` for S3...).

    Each file's path is its run key, so a file is launched at most once, ever. The listing
    cache is invalidated before every evaluation, so files that just arrived are seen.
    """
    options = dict(storage_options or {})

    def evaluate(context: SensorContext) -> list[RunRequest]:
        # Imported here: fsspec/s3fs cost ~100 ms and only file sensors need them.
        import fsspec

        from flowstone_cli.io.filesystems import fsspec_options

        protocol = pattern.split("://", 1)[0] if "://" in pattern else "file"
        glob = pattern
        if protocol == "file" and not os.path.isabs(pattern) and context.project_root:
            glob = os.path.join(str(context.project_root), pattern)
        fs = fsspec.filesystem(protocol, **fsspec_options(protocol, options))
        fs.invalidate_cache()
        paths = sorted(fs.glob(glob))
        prefix = f"{protocol}://" if protocol != "file" else ""
        requests = []
        for path in paths:
            full = path if path.startswith(prefix) else prefix + path
            requests.append(RunRequest(partition=_partition_from(partition_from, full),
                                       run_key=full))
        return requests

    file, line = _caller()
    return SensorSpec(name=name, target=target, interval=interval, fn=evaluate,
                      description=f"new files matching {pattern}", file=file, line=line)


def AssetSensor(name: str, watch: Sequence[str] | str, target: str, *,  # noqa: N802
                interval: str = "30s") -> SensorSpec:
    """A sensor that requests a run of `target` for every new materialization of `watch`.

    The run has the watched materialization's partition and its id as run key; the cursor
    remembers the time of the last materialization seen.
    """
    watched = [watch] if isinstance(watch, str) else list(watch)

    def evaluate(context: SensorContext) -> list[RunRequest]:
        after = datetime.fromisoformat(context.cursor) if context.cursor else None
        found = context.materializations_since(watched, after)  # type: ignore[arg-type]
        if found:
            context.update_cursor(found[-1]["ended_at"].isoformat())
        return [RunRequest(partition=m["partition"], run_key=m["step_id"]) for m in found]

    file, line = _caller()
    return SensorSpec(name=name, target=target, interval=interval, fn=evaluate,
                      description=f"new materializations of {', '.join(watched)}", file=file,
                      line=line)

"""Removing what killed writers left behind: temporary files of values never published.

A writer killed between creating its temporary file and renaming it leaves a hidden
`.<name>.tmp-<pid>-<random>` file next to the value. Each run removes those in the folders it is
about to write to (one listing per folder); `flowstone gc` sweeps every local storage root.
A temporary file whose writer is still running (and younger than an hour) is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from flowstone_cli.definitions.batch import EXTERNAL_IO_MANAGER
from flowstone_cli.api.wiring import build_io_managers
from flowstone_cli.errors import FlowStoneError
from flowstone_cli.io.base import StoreContext
from flowstone_cli.io.cleanup import cleanup_directories, cleanup_temp_files
from flowstone_cli.planning.plan import StepKey
from flowstone_cli.project.loader import Project


@dataclass(frozen=True)
class GcResult:
    """What `flowstone gc` removed: temporary files, and the roots it looked in."""

    removed: int
    roots: tuple[str, ...]


def collect_garbage(project: Project) -> GcResult:
    """Remove leftover temporary files below every local storage root of the project."""
    roots = sorted({m.root for m in build_io_managers(project).values() if m.is_local})
    removed = sum(cleanup_temp_files(root) for root in roots if os.path.isdir(root))
    return GcResult(removed, tuple(roots))


def clean_run_folders(project: Project, steps: Iterable[StepKey]) -> int:
    """Remove leftover temporary files in the local folders these steps write to."""
    from flowstone_cli.execution.runtime import partition_info

    definitions = project.definitions.assets
    # Batch assets (dbt models) are stored by their tool, not through an I/O manager.
    keys = [k for k in steps if definitions[k.asset].io_manager != EXTERNAL_IO_MANAGER]
    if not keys:
        return 0
    managers = build_io_managers(project, {definitions[k.asset].io_manager for k in keys})
    folders: set[str] = set()
    for key in keys:
        manager = managers[definitions[key.asset].io_manager]
        if not manager.is_local:
            continue
        info = partition_info(definitions[key.asset], key.partition)
        try:
            location = manager.location(StoreContext(key.asset, key.partition, info.path))
        except FlowStoneError:  # a custom manager with another layout: nothing to clean
            continue
        folders.add(os.path.dirname(location.path))
    return cleanup_directories(sorted(folders))

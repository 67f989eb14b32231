"""Load-time refusal of an I/O manager that would write into FlowStone's own metadata file.

A `duckdb` I/O manager keeps asset tables in a database file; if that file is the metadata store
(for instance after `[metadata] path` was changed to the warehouse), an asset named `runs` would
replace the `runs` table and every later command would fail. `flowstone check` (and every
command, since they all load the project) reports the clash before anything is written. The
manager itself also refuses, at write time, a file that holds FlowStone metadata
(`io/duckdb_manager.py`), for files that only become the same one later (a symlink).
"""

from __future__ import annotations

import os
from pathlib import Path

from flowstone_cli.errors import ConfigError, Problem
from flowstone_cli.io.duckdb_manager import DuckDBIOManager
from flowstone_cli.project.config import CONFIG_FILE, FlowStoneConfig


def io_manager_root(project_root: Path, storage_root: str, configured: str | None) -> str:
    """The root of an I/O manager: its own `root` (relative to the project), else the storage
    root."""
    if configured is None:
        return storage_root
    if "://" in configured and not configured.startswith("file://"):
        return configured
    return str((project_root / configured.removeprefix("file://")).resolve())


def _same_file(a: str, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def metadata_clash_problems(project_root: Path, config: FlowStoneConfig, storage_root: str,
                            metadata_path: Path) -> list[Problem]:
    """A problem for each `duckdb` I/O manager (built-in or configured) whose database file is
    the metadata file."""
    candidates: list[tuple[str, str, str | None]] = []
    if "duckdb" not in config.io_managers:
        candidates.append(("duckdb", storage_root, None))
    for name, section in config.io_managers.items():
        if section.type == "duckdb":
            path = section.options.get("path")
            candidates.append((name, io_manager_root(project_root, storage_root, section.root),
                               path if isinstance(path, str) else None))
    problems = []
    for name, root, path in candidates:
        try:
            database = DuckDBIOManager(root, path=path).database_path
        except ConfigError:
            continue  # a malformed option is reported when the manager is built
        if _same_file(database, metadata_path):
            problems.append(Problem(
                "io_manager_is_metadata_store",
                f"I/O manager `{name}` would write asset tables into {database}, which is "
                "FlowStone's metadata file", str(project_root / CONFIG_FILE),
                "Give the duckdb I/O manager its own `path` (e.g. warehouse.duckdb), or move "
                "the metadata file with [metadata] path."))
    return problems

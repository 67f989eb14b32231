"""A dbt project's manifest, reduced to what FlowStone needs and cached by the project's hash.

Loading a FlowStone project must stay fast (`flowstone list`, `check`), and importing dbt costs
seconds. So the manifest is read through a small cache file, `target/flowstone_dbt_nodes.json`,
keyed by a hash of the dbt project's files (SQL, YAML, seeds, macros), the profile and the
selection. Only when that hash changed does FlowStone run `dbt parse` (through dbt's
programmatic `dbtRunner`, in a child process so that dbt's logging and global state never touch
the command's own output) and rewrite the cache atomically. Nothing here imports dbt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowstone_cli.errors import DbtError

CACHE_FILE = "flowstone_dbt_nodes.json"
CACHE_FORMAT = 1
ASSET_TYPES = ("model", "seed", "snapshot")
PROJECT_DIR_ENV = "FLOWSTONE_DBT_PROJECT_DIR"
_SKIPPED_DIRS = {"target", "logs", "dbt_packages", "dbt_modules", "__pycache__"}
_SKIPPED_SUFFIXES = (".duckdb", ".duckdb.wal", ".db", ".wal", ".tmp", ".lock")
_CONTENT_LIMIT = 1 << 20  # larger files (big seeds) are hashed by size and mtime


@dataclass(frozen=True)
class DbtLocation:
    """Where a dbt project is and how FlowStone runs it.

    Attributes:
        project_dir: the folder holding `dbt_project.yml`.
        profiles_dir: the folder holding `profiles.yml`.
        target: the profile target, or None for the profile's default.
        select: dbt selection limiting which nodes become assets, or None for all.
        exclude: dbt exclusion, or None.
    """

    project_dir: Path
    profiles_dir: Path
    target: str | None = None
    select: str | None = None
    exclude: str | None = None

    @property
    def target_dir(self) -> Path:
        """dbt's `target/` folder, where the manifest and FlowStone's cache live."""
        return self.project_dir / "target"

    def dbt_args(self) -> list[str]:
        """The arguments every dbt command gets: project, profiles and target."""
        args = ["--project-dir", str(self.project_dir), "--profiles-dir", str(self.profiles_dir)]
        return args + (["--target", self.target] if self.target else [])


def dbt_environment(location: DbtLocation) -> dict[str, str]:
    """Environment additions for dbt: no usage stats, and the project folder for profiles."""
    return {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            PROJECT_DIR_ENV: str(location.project_dir)}


def _project_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
                continue
            yield Path(dirpath) / name


def project_hash(location: DbtLocation) -> str:
    """A hash of everything that can change the manifest or the selection."""
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_FORMAT, location.target, location.select,
                              location.exclude]).encode())
    files = list(_project_files(location.project_dir))
    profiles = location.profiles_dir / "profiles.yml"
    if profiles.is_file() and profiles not in files:
        files.append(profiles)
    for path in files:
        stat = path.stat()
        digest.update(str(path.relative_to(location.project_dir.parent)).encode() + b"\0")
        if stat.st_size <= _CONTENT_LIMIT:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class DbtNodes:
    """The manifest's asset nodes (models, seeds, snapshots), the sources they read, and
    which node each test is about (test unique id -> node unique id)."""

    hash: str
    nodes: tuple[Mapping[str, Any], ...]
    sources: Mapping[str, Mapping[str, Any]]
    tests: Mapping[str, str]


def _meta(node: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(node.get("meta") or {})
    meta.update((node.get("config") or {}).get("meta") or {})
    return meta


def extract(manifest: Mapping[str, Any], selected: list[str] | None) -> dict[str, Any]:
    """The cache's content from a full `manifest.json` and the selected unique ids."""
    wanted = set(selected) if selected is not None else None
    nodes: list[dict[str, Any]] = []
    for unique_id, node in manifest.get("nodes", {}).items():
        kind = node.get("resource_type")
        if kind not in ASSET_TYPES or (wanted is not None and unique_id not in wanted):
            continue
        config = node.get("config") or {}
        nodes.append({
            "unique_id": unique_id, "name": node["name"], "resource_type": kind,
            "package_name": node.get("package_name", ""), "fqn": node.get("fqn", []),
            "group": config.get("group") or node.get("group"),
            "description": node.get("description", ""), "tags": node.get("tags", []),
            "checksum": (node.get("checksum") or {}).get("checksum", ""),
            "depends_on": (node.get("depends_on") or {}).get("nodes", []),
            "path": node.get("original_file_path", ""), "meta": _meta(node),
            "relation_name": node.get("relation_name"),
            "materialized": config.get("materialized"),
        })
    tests = {}
    for unique_id, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") == "test":
            owners = [node.get("attached_node")] + (node.get("depends_on") or {}).get("nodes", [])
            owner = next((o for o in owners if o and not o.startswith("source.")), None)
            if owner:
                tests[unique_id] = owner
    sources = {unique_id: {"source_name": source.get("source_name", ""),
                           "name": source.get("name", ""), "meta": _meta(source)}
               for unique_id, source in manifest.get("sources", {}).items()}
    return {"nodes": nodes, "sources": sources, "tests": tests}


@contextmanager
def _parse_lock(target_dir: Path) -> Iterator[None]:
    target_dir.mkdir(parents=True, exist_ok=True)
    with open(target_dir / ".flowstone_parse.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_cache(location: DbtLocation, wanted: str) -> DbtNodes | None:
    try:
        data = json.loads((location.target_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("hash") != wanted:
        return None
    return DbtNodes(hash=wanted, nodes=tuple(data["nodes"]), sources=data["sources"],
                    tests=data.get("tests", {}))


def _run_parse(location: DbtLocation, wanted: str) -> None:
    command = [sys.executable, "-m", "flowstone_cli.integrations.dbt_parse", wanted,
               json.dumps({"dbt_args": location.dbt_args(), "select": location.select,
                           "exclude": location.exclude,
                           "cache": str(location.target_dir / CACHE_FILE)})]
    env = {**os.environ, **dbt_environment(location)}
    proc = subprocess.run(command, cwd=location.project_dir, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        detail = " | ".join(lines[-3:]) if lines else f"exit code {proc.returncode}"
        raise DbtError(f"dbt could not parse the project at {location.project_dir}: {detail}",
                       hint="Run `dbt parse` in that folder to see the full error; check "
                            "dbt_project.yml, profiles.yml and the models' SQL and YAML.")


def load_nodes(location: DbtLocation) -> DbtNodes:
    """The project's nodes from the cache, running `dbt parse` first if the files changed.

    Raises:
        DbtError: `dbt parse` failed.
    """
    wanted = project_hash(location)
    cached = _read_cache(location, wanted)
    if cached is not None:
        return cached
    with _parse_lock(location.target_dir):
        cached = _read_cache(location, wanted)  # another process may have parsed meanwhile
        if cached is not None:
            return cached
        _run_parse(location, wanted)
        cached = _read_cache(location, wanted)
    if cached is None:
        raise DbtError(f"dbt parsed {location.project_dir} but FlowStone's node cache was not "
                       "written", hint="Check that the target/ folder is writable.")
    return cached

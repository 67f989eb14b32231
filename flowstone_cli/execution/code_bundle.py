"""A project's code as one archive, for workers on other machines.

The archive holds the assets package and `flowstone.toml` exactly as written (with `${VAR}`
references unresolved, so no secret travels), minus the `[executor]` table, which only the
coordinator reads. Its name carries the project's name and a hash of the files, so two projects,
or two versions of one project, unpack into different folders and import under different
private package names (see `project/discovery.py`): they never mix on a shared cluster.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from flowstone_cli.project.config import CONFIG_FILE
from flowstone_cli.project.loader import Project

# A fixed timestamp keeps the archive byte-for-byte reproducible for the same files.
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class CodeBundle:
    """The shipped code of one project version.

    Attributes:
        name: `<project>-<first 16 hex digits of the code hash>`; the folder it unpacks into.
        code_hash: sha256 over the relative paths and bytes of every shipped file.
        archive: the zip file's bytes.
    """

    name: str
    code_hash: str
    archive: bytes

    def __repr__(self) -> str:
        return f"CodeBundle({self.name!r}, {len(self.archive)} bytes)"


def _shipped_files(project: Project) -> list[tuple[str, bytes]]:
    root = project.root
    assets_dir = root / project.config.project.assets_dir
    files: list[tuple[str, bytes]] = [(CONFIG_FILE, _config_for_workers(root / CONFIG_FILE))]
    for dirpath, dirnames, filenames in os.walk(assets_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith(".") or filename.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / filename
            files.append((path.relative_to(root).as_posix(), path.read_bytes()))
    return files


def _config_for_workers(path: Path) -> bytes:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    raw.pop("executor", None)  # e.g. `address = "${DASK_SCHEDULER}"`, unset on workers
    return tomli_w.dumps(raw).encode("utf-8")


def bundle_project(project: Project) -> CodeBundle:
    """Pack the project's assets folder and configuration into a version-stamped archive."""
    files = _shipped_files(project)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
            archive.writestr(zipfile.ZipInfo(name, date_time=_EPOCH), data)
    code_hash = digest.hexdigest()
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in project.name)
    return CodeBundle(name=f"{safe_name}-{code_hash[:16]}", code_hash=code_hash,
                      archive=buffer.getvalue())


def unpack(name: str, archive: bytes, into: Path) -> Path:
    """Unpack a bundle into `into/<name>` once; concurrent callers end with the same folder.

    The archive is extracted into a temporary folder next to the target and renamed into
    place, so a reader never sees half a project.
    """
    target = into / name
    if (target / CONFIG_FILE).is_file():
        return target
    into.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=into))
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            for member in zipped.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"unsafe path {member!r} in code bundle {name}")
            zipped.extractall(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / CONFIG_FILE).is_file():  # not a lost race: a real failure
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target

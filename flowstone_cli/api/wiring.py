"""Live components of a loaded project: the metadata store, and (re-exported from the
execution layer) its I/O managers, resources and step runtime."""

from __future__ import annotations

from pathlib import Path

from flowstone_cli.execution.assembly import build_io_managers, build_resources, build_runtime
from flowstone_cli.metadata.store import MetadataStore
from flowstone_cli.project.loader import Project
from flowstone_cli.redaction import Redactor


def open_store(project: Project) -> MetadataStore:
    """The project's metadata store (no connection is opened here)."""
    return MetadataStore(project.metadata_path, lock_timeout=project.config.metadata.lock_timeout,
                         redactor=Redactor(project.secrets))


def metadata_dir(project: Project) -> Path:
    """The folder holding the metadata file."""
    return project.metadata_path.parent


__all__ = ["build_io_managers", "build_resources", "build_runtime", "metadata_dir", "open_store"]

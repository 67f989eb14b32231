"""`flowstone init`: create a new project from a template folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flowstone_cli.errors import UsageError

_PLACEHOLDER = "{{project_name}}"
_TEXT_SUFFIXES = {".py", ".toml", ".md", ".txt", ".gitignore", ".json", ".csv"}


def templates_dir() -> Path:
    """The folder holding the project templates (one sub-folder per template).

    In a source checkout this is the repository's `templates/`; an installed package carries
    the same files as package data under `flowstone_cli/templates`.
    """
    packaged = Path(__file__).resolve().parent.parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def available_templates() -> list[str]:
    """Names of the templates that can be passed to `flowstone init --template`."""
    folder = templates_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "flowstone.toml").is_file())


def create_project(target: Path, template: str = "default", *, name: str | None = None) -> Path:
    """Copy `template` into `target`, filling in the project name.

    Raises:
        UsageError: the template does not exist, or `target` exists and is not empty.
    """
    templates = available_templates()
    if template not in templates:
        raise UsageError(f"no template named `{template}`",
                         hint=f"Available templates: {', '.join(templates) or 'none'}.")
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} already exists and is not empty",
                         hint="Choose a new folder name, or empty the folder first.")
    project_name = name or re.sub(r"[^A-Za-z0-9_]+", "_", target.name).strip("_") or "project"
    source = templates_dir() / template
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data", ".flowstone"))
    for path in target.rglob("*"):
        if path.is_file() and (path.suffix in _TEXT_SUFFIXES or path.name in _TEXT_SUFFIXES):
            text = path.read_text(encoding="utf-8")
            if _PLACEHOLDER in text:
                path.write_text(text.replace(_PLACEHOLDER, project_name), encoding="utf-8")
    return target

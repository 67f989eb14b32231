"""Finding a project folder and importing its asset modules as a package of their own.

Modules are imported under a private top-level package name (`_flowstone_<hash>`) whose path is
the project folder, so a user file named `duckdb.py` becomes `_flowstone_<hash>.duckdb` and can
never shadow the installed library. Modules inside the assets folder may use relative imports.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from flowstone_cli.errors import FlowStoneError, Problem, ProjectNotFoundError
from flowstone_cli.project.config import CONFIG_FILE

PROJECT_ENV = "FLOWSTONE_PROJECT"


def find_project_root(explicit: str | os.PathLike[str] | None, env: Mapping[str, str],
                      cwd: Path) -> Path:
    """Locate the project: `--project`, then `$FLOWSTONE_PROJECT`, then the nearest parent of
    `cwd` holding `flowstone.toml`.

    Raises:
        ProjectNotFoundError: none of those holds a `flowstone.toml`.
    """
    for given, origin in ((explicit, "--project"), (env.get(PROJECT_ENV), PROJECT_ENV)):
        if given:
            root = Path(given).expanduser().resolve()
            if (root / CONFIG_FILE).is_file():
                return root
            if root.is_file() and root.name == CONFIG_FILE:
                return root.parent
            raise ProjectNotFoundError(f"{origin} points at {root}, which has no {CONFIG_FILE}",
                                       hint="Give the folder that holds flowstone.toml, or create "
                                            "a project with `flowstone init DIR`.")
    for folder in (cwd, *cwd.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ProjectNotFoundError(f"no {CONFIG_FILE} in {cwd} or any parent folder",
                               hint="Run inside a project, pass `-p DIR`, set FLOWSTONE_PROJECT, "
                                    "or create one with `flowstone init DIR`.")


def package_name_for(root: Path) -> str:
    """The private package name the project's modules are imported under."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:10]
    return f"_flowstone_{digest}"


@dataclass(frozen=True)
class DiscoveredModules:
    """The result of importing a project's asset modules.

    Attributes:
        modules: the modules that imported cleanly, in path order.
        problems: one problem per module that failed to import, with file:line.
        package: the private package name the modules live under.
    """

    modules: tuple[ModuleType, ...]
    problems: tuple[Problem, ...]
    package: str


def _module_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith((".", "_")) or d == "__init__")
        files.extend(Path(dirpath) / f for f in sorted(filenames)
                     if f.endswith(".py") and not f.startswith("."))
    return files


def _error_location(exc: BaseException, project_root: Path, fallback: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno or 0}"
    frames = traceback.extract_tb(exc.__traceback__)
    root = str(project_root)
    for frame in reversed(frames):
        if frame.filename.startswith(root):
            return f"{frame.filename}:{frame.lineno}"
    return f"{fallback}:1"


def _ensure_package(package: str, root: Path) -> None:
    existing = sys.modules.get(package)
    if existing is not None and list(getattr(existing, "__path__", [])) == [str(root)]:
        return
    module = ModuleType(package, f"FlowStone project at {root}")
    module.__path__ = [str(root)]
    module.__file__ = None
    sys.modules[package] = module


def import_project_modules(root: Path, assets_dir: str) -> DiscoveredModules:
    """Import every module under `root/assets_dir`, recursively, collecting import problems.

    An error in one module is reported with its file and line; the other modules still load.
    """
    package = package_name_for(root)
    folder = (root / assets_dir).resolve()
    problems: list[Problem] = []
    modules: list[ModuleType] = []
    if not folder.is_dir():
        problems.append(Problem("assets_dir_missing", f"assets folder {folder} does not exist",
                                str(root / CONFIG_FILE),
                                "Create it, or set `[project] assets_dir` in flowstone.toml."))
        return DiscoveredModules((), tuple(problems), package)
    if not folder.is_relative_to(root):
        problems.append(Problem("assets_dir_outside", f"assets folder {folder} is outside the "
                                f"project {root}", str(root / CONFIG_FILE),
                                "Keep asset modules inside the project folder."))
        return DiscoveredModules((), tuple(problems), package)
    _ensure_package(package, root)
    if str(root) not in sys.path:
        # Appended, never prepended: a project may import its own helper modules by absolute
        # name, but installed libraries always win over same-named project files.
        sys.path.append(str(root))
    for file in _module_files(folder):
        parts = list(file.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or not all(p.isidentifier() for p in parts):
            problems.append(Problem("module_name", f"{file} cannot be imported: its path is not "
                                    "a valid Python module name", f"{file}:1",
                                    "Rename it with letters, digits and underscores."))
            continue
        name = ".".join([package, *parts])
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            sys.modules.pop(name, None)
            problems.append(Problem("import_error", f"cannot import {file.name}: "
                                    f"{type(exc).__name__}: {exc}",
                                    _error_location(exc, root, file),
                                    exc.hint if isinstance(exc, FlowStoneError) and exc.hint
                                    else "Fix the error; the other modules were still checked."))
            continue
        modules.append(module)
    return DiscoveredModules(tuple(modules), tuple(problems), package)

"""The FlowStone pytest plugin (registered through the `pytest11` entry point).

Fixture `flowstone_project`: a copy of your project in a temporary folder, and a handle to run
`flowstone` commands in it as a user would (a real subprocess):

```python
def test_backfill(flowstone_project):
    result = flowstone_project.run("materialize", "+daily_report", "--partition", "2025-01-15")
    assert result.code == 0, result.output
    assert (flowstone_project.root / "data" / "daily_report").exists()
```

The project copied is the one named by `@pytest.mark.flowstone_project("path")`, else the
`flowstone_project` ini option, else the nearest folder holding `flowstone.toml` above the test
file. Its `data/` and `.flowstone/` are not copied. Light to import: standard library and pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_IGNORE = shutil.ignore_patterns("data", ".flowstone", "__pycache__", ".venv", ".git")


@dataclass(frozen=True)
class CliResult:
    """What one `flowstone` command did."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for assertion messages."""
        return self.stdout + self.stderr

    def json(self) -> Any:
        """stdout parsed as JSON (for commands run with `--json`)."""
        return json.loads(self.stdout)


class ProjectHandle:
    """A project folder copied for one test, and the commands to drive it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, *args: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> CliResult:
        """Run `flowstone -p ROOT ARGS...` in a subprocess and capture what it did."""
        environ = {k: v for k, v in os.environ.items() if k != "FLOWSTONE_PROJECT"}
        environ.update(env or {})
        proc = subprocess.run([sys.executable, "-m", "flowstone_cli", "-p", str(self.root),
                               *args], env=environ, capture_output=True, text=True,
                              timeout=timeout, check=False)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    def materialize(self, *selection: str, json_output: bool = True) -> CliResult:
        """`flowstone materialize SELECTION... [--json]`."""
        return self.run("materialize", *selection, *(["--json"] if json_output else []))

    def __repr__(self) -> str:
        return f"ProjectHandle({str(self.root)!r})"


def _source(request: pytest.FixtureRequest) -> Path:
    marker = request.node.get_closest_marker("flowstone_project")
    if marker is not None and marker.args:
        path = Path(marker.args[0])
        return path if path.is_absolute() else Path(request.config.rootpath) / path
    configured = request.config.getini("flowstone_project")
    if configured:
        return Path(request.config.rootpath) / str(configured)
    here = Path(str(request.node.path)).resolve().parent
    for folder in (here, *here.parents):
        if (folder / "flowstone.toml").is_file():
            return folder
    raise pytest.UsageError(
        "flowstone_project: no flowstone.toml above the test file; mark the test with "
        "@pytest.mark.flowstone_project('path/to/project') or set `flowstone_project` in "
        "the pytest configuration")


@pytest.fixture
def flowstone_project(request: pytest.FixtureRequest, tmp_path: Path) -> ProjectHandle:
    """A copy of the project in a temporary folder, with `.run(...)` for `flowstone` commands."""
    source = _source(request)
    if not (source / "flowstone.toml").is_file():
        raise pytest.UsageError(f"flowstone_project: {source} holds no flowstone.toml")
    target = tmp_path / source.name
    shutil.copytree(source, target, ignore=_IGNORE)
    return ProjectHandle(target)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("flowstone_project", "folder of the FlowStone project that the "
                                       "flowstone_project fixture copies", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "flowstone_project(path): the FlowStone project the "
                                       "flowstone_project fixture copies")

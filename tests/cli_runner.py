"""Running the real `flowstone` command in a subprocess, as users and CI do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def flowstone_executable() -> list[str]:
    """The installed console script next to this interpreter, else `python -m flowstone_cli`."""
    script = Path(sys.executable).with_name("flowstone")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flowstone_cli"]


@dataclass
class Result:
    """What a `flowstone` invocation did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> Result:
    """Run `flowstone ARGS...` and capture its exit code and output."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    environ.update(env or {})
    proc = subprocess.run([*flowstone_executable(), *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def copy_fixture(name: str, target: Path) -> Path:
    """Copy `tests/fixtures/NAME` to `target` (a fresh folder) and return it."""
    dest = target / name
    shutil.copytree(FIXTURES / name, dest, ignore=shutil.ignore_patterns("__pycache__", "data",
                                                                          ".flowstone"))
    return dest


def copy_example(target: Path) -> Path:
    """Copy the repository's `example_project` to `target` and return it."""
    dest = target / "example_project"
    shutil.copytree(REPO / "example_project", dest,
                    ignore=shutil.ignore_patterns("__pycache__", "data", ".flowstone"))
    return dest
